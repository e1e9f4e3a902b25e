"""The joblib path on a Dask LocalCluster gives the serial result, in memory and in a store."""

from contextlib import nullcontext

import numpy as np
import pytest
from joblib import parallel_config

from sklearn_songpop import (
    AudioError,
    IntervalSampler,
    SpectrogramTransformer,
    make_songs,
    write_songs,
)

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def worker_processes():
    """One cluster of two single-threaded worker processes for the tests of this file:
    starting one, and importing the package in its workers, takes seconds."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster


@pytest.mark.slow  # starts a cluster
@pytest.mark.parametrize("processes", [True, False], ids=["worker-processes", "worker-threads"])
def test_dask_backend_equals_serial(tmp_path, processes, request):
    songs = make_songs(n_songs=8, n_artists=2, duration=5.0, random_state=0)
    manifest = write_songs(songs, tmp_path, format=("mp3", "m4a"))
    paths = sorted(str(p) for p in manifest.parent.glob("song_*"))
    sampler = IntervalSampler(random_state=0, n_jobs=-1)
    transformer = SpectrogramTransformer(n_jobs=-1, batch_size=4)

    X = sampler.fit_transform(paths)
    serial = transformer.fit_transform(X)
    cluster = (nullcontext(request.getfixturevalue("worker_processes")) if processes else
               distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                        dashboard_address=None))
    with cluster as running:
        with distributed.Client(running) as client, parallel_config(backend="dask"):
            assert len(client.scheduler_info()["workers"]) == 2
            with distributed.get_task_stream(client) as decoding:
                X_dask = sampler.fit_transform(paths)
            with distributed.get_task_stream(client) as spectrograms:
                parallel = transformer.fit_transform(X_dask)
    np.testing.assert_array_equal(X_dask, X)
    np.testing.assert_array_equal(parallel, serial)
    # the songs are decoded on the workers; the spectrograms are computed in threads
    # of this process, since sending a window costs more than its spectrogram
    assert len({task["worker"] for task in decoding.data}) == 2
    assert spectrograms.data == []


@pytest.mark.slow  # uses a cluster of two worker processes
def test_dask_workers_write_the_same_store_as_the_serial_path(tmp_path, worker_processes):
    zarr = pytest.importorskip("zarr", minversion="3")
    from sklearn_songpop import make_songpop_pipeline
    from sklearn_songpop.store import write_features

    songs = make_songs(n_songs=7, n_artists=2, duration=6.0, random_state=1)
    manifest = write_songs(songs, tmp_path / "songs", format="mp3")
    paths = sorted(str(p) for p in manifest.parent.glob("song_*"))
    bad = tmp_path / "songs" / "broken.mp3"
    bad.write_bytes(b"ID3 this is no mp3")
    paths.insert(3, str(bad))
    front = make_songpop_pipeline("default", random_state=0)[:-1]
    serial = write_features(paths, tmp_path / "serial.zarr", front, y=[0, 1] * 4,
                            chunk_songs=2, on_error="skip")
    with distributed.Client(worker_processes) as client, parallel_config(backend="dask"):
        with distributed.get_task_stream(client) as tasks:
            parallel = write_features(paths, tmp_path / "dask.zarr", front,
                                      y=[0, 1] * 4, chunk_songs=2, on_error="skip")
        with pytest.raises(AudioError, match="broken.mp3") as stopped:
            write_features(paths, tmp_path / "stop.zarr", front, chunk_songs=2)
    # every chunk was computed and written by a worker process, not by this one
    assert len({task["worker"] for task in tasks.data}) == 2
    assert stopped.value.problems == {str(bad): parallel.failures[str(bad)]}
    assert parallel.failures == serial.failures and parallel.complete
    for name in ("spectrograms", "status", "done"):
        a = zarr.open_group(str(tmp_path / "serial.zarr"), mode="r")[name][:]
        b = zarr.open_group(str(tmp_path / "dask.zarr"), mode="r")[name][:]
        assert a.dtype == b.dtype and a.shape == b.shape
        if name == "spectrograms":
            # the same songs, windows and chunks; but torch's float32 FFT may round
            # otherwise in a worker process (one thread) than here, and CI saw 2% of
            # the float16 values one or two steps (0.03 dB) apart
            assert np.abs(a.astype(np.float32) - b.astype(np.float32)).max() <= 0.07
            assert np.mean(a == b) > 0.9
        else:
            assert np.array_equal(a, b)
    assert parallel.ids == serial.ids and parallel.y.tolist() == serial.y.tolist()


@pytest.mark.slow  # uses a cluster of two worker processes; fits eight small networks
def test_a_grid_search_on_a_dask_cluster_shares_the_feature_cache(tmp_path, worker_processes):
    from joblib import Memory
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

    from sklearn_songpop import make_songpop_pipeline

    songs = make_songs(n_songs=12, n_artists=4, duration=8.0, popular_fraction=0.5,
                       random_state=2)
    manifest = write_songs(songs, tmp_path / "songs", format="wav")
    paths = sorted(str(p) for p in manifest.parent.glob("song_*"))
    grid = {"classifier__lr": [1e-3, 3e-3]}

    def search(cache, n_jobs):
        pipe = make_songpop_pipeline(random_state=0, memory=Memory(cache, verbose=0))
        pipe.set_params(classifier__max_epochs=1, classifier__train_split=None,
                        classifier__callbacks=None, classifier__module__channels=(4, 8))
        return GridSearchCV(pipe, grid, cv=StratifiedGroupKFold(2),
                            scoring="roc_auc", n_jobs=n_jobs,
                            refit=False).fit(paths, songs.y, groups=songs.groups)

    serial = search(tmp_path / "serial_cache", n_jobs=None)  # in this process
    shared = tmp_path / "shared_cache"  # a folder every worker sees, as on a shared disk
    with distributed.Client(worker_processes) as client, parallel_config(backend="dask"):
        with distributed.get_task_stream(client) as tasks:
            spread = search(shared, n_jobs=-1)
    assert len({task["worker"] for task in tasks.data}) == 2  # both workers fitted
    assert np.isfinite(serial.cv_results_["mean_test_score"]).all()
    np.testing.assert_allclose(spread.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], atol=1e-6)
    # each fold's two front-end steps, once: the second learning rate found them there
    assert len(list(shared.rglob("output.pkl"))) == 2 * 2
