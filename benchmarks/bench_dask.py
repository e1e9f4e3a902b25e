"""Scale-out: interval loading and spectrograms on a Dask LocalCluster through joblib.

Two single-threaded workers against one; the result must equal the serial one exactly.
Target (issue 7): at least 1.6x the single-worker throughput.

The songs are 4-minute MP3s at 44.1 kHz stereo, as most real files are, read as
22,050 Hz mono: a few distinct generated songs, each copied under several names (the
sampler draws a song's windows from its name and size, so every copy gets its own).
With one worker joblib runs the jobs in the calling process, so the reference pays no
transfers at all. Two workers are measured both as processes (``LocalCluster``'s
default: every window travels back to the client) and as threads of the client
(``processes=False``: decoding releases the GIL, and nothing travels).
``SpectrogramTransformer`` keeps its jobs in threads of the calling process whatever
the backend (a window costs more to send than its spectrogram costs to compute), so
only the loading is spread over the workers.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from joblib import parallel_config

from benchmarks._common import stereo_song, table


def _load(paths):
    from sklearn_songpop.intervals import IntervalSampler

    return IntervalSampler(random_state=0, n_jobs=-1).fit_transform(paths)


def _spectrograms(X):
    from sklearn_songpop.spectrogram import SpectrogramTransformer

    return SpectrogramTransformer().fit_transform(X)


def _timed(paths, repeat: int):
    """Median seconds for loading and for spectrograms, and the last result."""
    _spectrograms(_load(paths[:4]))  # warm the workers and the imports
    load, spec = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        X = _load(paths)
        t1 = time.perf_counter()
        S = _spectrograms(X)
        t2 = time.perf_counter()
        load.append(t1 - t0)
        spec.append(t2 - t1)
    return statistics.median(load), statistics.median(spec), S


def _files(folder: Path, n_songs: int, n_distinct: int) -> list[str]:
    from sklearn_songpop._write import write_audio

    sources = []
    for i in range(n_distinct):
        source = folder / f"source_{i}.mp3"
        write_audio(source, stereo_song(240.0, 44100, random_state=i), 44100)
        sources.append(source)
    paths = []
    for i in range(n_songs):
        path = folder / f"song_{i:03d}.mp3"
        shutil.copyfile(sources[i % n_distinct], path)
        paths.append(str(path))
    return paths


def run(quick: bool = False) -> str:
    from dask.distributed import Client, LocalCluster

    n_songs = 32 if quick else 96
    repeat = 3 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        paths = _files(Path(tmp), n_songs, n_distinct=4 if quick else 8)
        serial = _spectrograms(_load(paths))
        rows, base = [], None
        for workers, processes in ((1, True), (2, True), (2, False)):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                              dashboard_address=None) as cluster, Client(cluster):
                with parallel_config(backend="dask"):
                    load, spec, out = _timed(paths, repeat)
            equal = np.array_equal(out, serial)
            assert equal, "the Dask result differs from the serial one"
            rate = n_songs / (load + spec)
            base = base or rate
            kind = ("in this process (joblib's choice for one worker)" if workers == 1
                    else "processes" if processes else "threads of this process")
            rows.append([workers, kind, f"{n_songs / load:.1f}", f"{n_songs / spec:.1f}",
                         f"{rate:.1f}", f"{rate / base:.2f}x", "yes" if equal else "no"])
    return (f"## Scale-out with Dask ({n_songs} 4-minute MP3s, intervals and spectrograms)\n\n"
            + table(["workers", "workers run as", "loading songs/s", "spectrograms songs/s",
                     "both songs/s", "vs 1 worker", "equal to serial"], rows))
