"""The joblib path on a Dask LocalCluster gives exactly the serial result."""

import numpy as np
import pytest
from joblib import parallel_config

from sklearn_songpop import IntervalSampler, SpectrogramTransformer, make_songs, write_songs

distributed = pytest.importorskip("dask.distributed")


def test_dask_backend_equals_serial(tmp_path):
    songs = make_songs(n_songs=8, n_artists=2, duration=5.0, random_state=0)
    manifest = write_songs(songs, tmp_path, format=("mp3", "m4a"))
    paths = sorted(str(p) for p in manifest.parent.glob("song_*"))

    def work():
        X = IntervalSampler(random_state=0, n_jobs=-1).fit_transform(paths)
        return SpectrogramTransformer(n_jobs=-1, batch_size=4).fit_transform(X)

    serial = work()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client, parallel_config(backend="dask"):
            parallel = work()
            assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(parallel, serial)
