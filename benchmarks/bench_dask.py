"""Scale-out on a Dask LocalCluster through joblib: the feature store, then in memory.

Two single-threaded workers against one; the result must equal the serial one exactly.
Target (issues 7 and 16): at least 1.6x the single-worker throughput.

The songs are 4-minute MP3s at 44.1 kHz stereo, as most real files are, read as
22,050 Hz mono: a few distinct generated songs, each linked under several names (the
sampler draws a song's windows from its name and size, so every copy gets its own).
With one worker joblib runs the jobs in the calling process, so the reference pays no
transfers at all; its runs use joblib's sequential backend (what joblib falls back to
for a one-worker cluster) and alternate with the two workers' runs, so that the
speed of a shared machine, which drifts over minutes, weighs on both alike. Two
workers are measured as processes (``LocalCluster``'s default) and as threads of the
client (``processes=False``: decoding releases the GIL).

- Feature store: each worker decodes a chunk of songs, computes their spectrograms
  and writes them to the store itself, so only a chunk number and two counts travel
  back to the client.
- In memory (``IntervalSampler`` then ``SpectrogramTransformer``): every song's
  windows travel back to the client from worker processes.
  ``SpectrogramTransformer`` keeps its jobs in threads of the calling process
  whatever the backend (a window costs more to send than its spectrogram costs to
  compute), so only the loading is spread over the workers.
"""

from __future__ import annotations

import os
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


def _in_memory(paths):
    """Seconds for loading, seconds for spectrograms, and the spectrograms."""
    t0 = time.perf_counter()
    X = _load(paths)
    t1 = time.perf_counter()
    S = _spectrograms(X)
    return t1 - t0, time.perf_counter() - t1, S


def _stored(paths, folder: Path):
    """Seconds for write_features into a fresh store, and the store's spectrograms."""
    import zarr

    from sklearn_songpop.pipeline import make_songpop_pipeline
    from sklearn_songpop.store import write_features

    front = make_songpop_pipeline("default", random_state=0)[:-1]
    store = Path(tempfile.mkdtemp(dir=folder)) / "store.zarr"
    t0 = time.perf_counter()
    write_features(paths, store, front, chunk_songs=8)
    seconds = time.perf_counter() - t0
    values = zarr.open_group(str(store), mode="r")["spectrograms"][:]
    shutil.rmtree(store.parent)
    return seconds, values


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
        try:
            os.link(sources[i % n_distinct], path)  # another name, no more disk
        except OSError:
            shutil.copyfile(sources[i % n_distinct], path)
        paths.append(str(path))
    return paths


#: The allocator setting of the user guide: Dask starts its worker processes with
#: ``MALLOC_TRIM_THRESHOLD_=65536``, which also freezes glibc's mmap threshold at
#: 128 KiB, so every decoded window is mapped and unmapped afresh.
_GLIBC = {"MALLOC_MMAP_THRESHOLD_": 33554432, "MALLOC_TRIM_THRESHOLD_": 268435456}


def run(quick: bool = False) -> str:
    import dask
    from dask.distributed import Client, LocalCluster

    n_songs = 32 if quick else 96
    n_store = 64 if quick else 256  # a store is for many songs: fixed costs fade
    repeat = 3 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        catalogue = _files(Path(tmp), n_store, n_distinct=4 if quick else 8)
        paths = catalogue[:n_songs]
        base_store, base_memory = _stored(catalogue, Path(tmp))[1], _in_memory(paths)[2]
        keys = ("store", "load", "spec", "both")
        one = {key: [] for key in keys}
        stored, memory = [], []
        for processes, environ in ((True, None), (True, _GLIBC), (False, None)):
            kind = ("threads of this process" if not processes else "processes" + (
                "" if environ is None else ", glibc's thresholds fixed as in the user guide"))
            config = {} if environ is None else {"distributed.nanny.pre-spawn-environ": {
                **dask.config.get("distributed.nanny.pre-spawn-environ"), **environ}}
            with dask.config.set(config), LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=processes,
                    dashboard_address=None) as cluster, Client(cluster):
                with parallel_config(backend="dask"):
                    _stored(catalogue[:16], Path(tmp))  # warm the workers and the imports
                    _in_memory(paths[:4])
                mine, theirs = {key: [] for key in keys}, {key: [] for key in keys}
                for _ in range(repeat):  # one worker and two in turn: drift hits both
                    for record, backend in ((theirs, "sequential"), (mine, "dask")):
                        # "sequential" is what joblib does with a one-worker cluster
                        with parallel_config(backend=backend):
                            seconds, values = _stored(catalogue, Path(tmp))
                            load, spec, S = _in_memory(paths)
                        same_store = np.array_equal(values, base_store)
                        equal = np.array_equal(S, base_memory)
                        assert same_store, f"{kind}: the store differs from one worker's"
                        assert equal, f"{kind}: the spectrograms differ from the serial ones"
                        record["store"].append(n_store / seconds)
                        record["load"].append(n_songs / load)
                        record["spec"].append(n_songs / spec)
                        record["both"].append(n_songs / (load + spec))
            for key in keys:
                one[key] += theirs[key]
            med = {key: statistics.median(v) for key, v in mine.items()}
            ref = {key: statistics.median(v) for key, v in theirs.items()}
            stored.append([2, kind, f"{med['store']:.1f}", f"{ref['store']:.1f}",
                           f"{med['store'] / ref['store']:.2f}x", "yes"])
            memory.append([2, kind, f"{med['load']:.1f}", f"{med['spec']:.1f}",
                           f"{med['both']:.1f}", f"{ref['both']:.1f}",
                           f"{med['both'] / ref['both']:.2f}x", "yes"])
        first = "in this process (joblib's choice for one worker)"
        med = {key: statistics.median(v) for key, v in one.items()}
        stored.insert(0, [1, first, f"{med['store']:.1f}", "-", "1.00x", "yes"])
        memory.insert(0, [1, first, f"{med['load']:.1f}", f"{med['spec']:.1f}",
                          f"{med['both']:.1f}", "-", "1.00x", "yes"])
    return ("## Scale-out with Dask (4-minute MP3s)\n\n"
            f"Medians of {repeat} runs; each run of two workers alternates with a run of "
            "one, whose median over the same minutes is the row's yardstick.\n\n"
            + f"### Workers write a feature store ({n_store} songs in chunks of 8, "
            "`write_features`); the target is 1.6x\n\n"
            + table(["workers", "workers run as", "songs/s", "one worker meanwhile, songs/s",
                     "vs 1 worker", "store equal to one worker's"], stored)
            + f"\n\n### {n_songs} songs' windows and spectrograms come back to this process "
            "(in memory)\n\n"
            + table(["workers", "workers run as", "loading songs/s", "spectrograms songs/s",
                     "both songs/s", "one worker meanwhile, both songs/s", "vs 1 worker",
                     "equal to serial"], memory))
