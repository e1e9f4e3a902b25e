"""Scale-out: interval loading and spectrograms on a Dask LocalCluster through joblib.

Two single-threaded workers against one; the result must equal the serial one exactly.
Target (issue 7): at least 1.6x the single-worker throughput.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from joblib import parallel_config

from benchmarks._common import table


def _work(paths):
    from sklearn_songpop.intervals import IntervalSampler
    from sklearn_songpop.spectrogram import SpectrogramTransformer

    X = IntervalSampler(random_state=0, n_jobs=-1).fit_transform(paths)
    return SpectrogramTransformer(n_jobs=-1, batch_size=16).fit_transform(X)


def run(quick: bool = False) -> str:
    from dask.distributed import Client, LocalCluster

    from sklearn_songpop.datasets import make_songs, write_songs

    n_songs = 40 if quick else 120
    with tempfile.TemporaryDirectory() as tmp:
        songs = make_songs(n_songs=n_songs, duration=60.0, random_state=0)
        manifest = write_songs(songs, tmp, format="mp3", n_jobs=2)
        paths = sorted(str(p) for p in manifest.parent.glob("*.mp3"))
        serial = _work(paths)
        rows, base = [], None
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster):
                with parallel_config(backend="dask"):
                    _work(paths[:4])  # warm the workers
                    t0 = time.perf_counter()
                    out = _work(paths)
                    t = time.perf_counter() - t0
            assert np.array_equal(out, serial), "the Dask result differs from the serial one"
            base = base or n_songs / t
            rows.append([workers, f"{n_songs / t:.1f}", f"{n_songs / t / base:.2f}x", "yes"])
    return "## Scale-out with Dask (intervals and spectrograms)\n\n" + table(
        ["workers", "songs/s", "vs 1 worker", "equal to serial"], rows)
