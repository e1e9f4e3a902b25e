"""The joblib path on a Dask LocalCluster gives exactly the serial result."""

import numpy as np
import pytest
from joblib import parallel_config

from sklearn_songpop import IntervalSampler, SpectrogramTransformer, make_songs, write_songs

distributed = pytest.importorskip("dask.distributed")


@pytest.mark.parametrize("processes", [True, False], ids=["worker-processes", "worker-threads"])
def test_dask_backend_equals_serial(tmp_path, processes):
    songs = make_songs(n_songs=8, n_artists=2, duration=5.0, random_state=0)
    manifest = write_songs(songs, tmp_path, format=("mp3", "m4a"))
    paths = sorted(str(p) for p in manifest.parent.glob("song_*"))
    sampler = IntervalSampler(random_state=0, n_jobs=-1)
    transformer = SpectrogramTransformer(n_jobs=-1, batch_size=4)

    X = sampler.fit_transform(paths)
    serial = transformer.fit_transform(X)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client, parallel_config(backend="dask"):
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
