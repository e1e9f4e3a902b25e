"""Feeding a network from the feature store on the CPU: where an epoch goes, and how fast.

``python -m benchmarks --only feeding`` (about 6 minutes on two cores; ``--quick``: 2).

1. Codecs, on the spectrograms of generated songs in float16: how much smaller each
   makes a store, and how fast one core writes and reads it.
2. Where an epoch of a trivial network (each spectrogram's band means, then one
   linear layer) goes, stage by stage, each timed alone over an epoch's songs.
3. The training harness with that network (the default classifier's crops, masks,
   batches and loop): from arrays in memory, from a store uncompressed and with LZ4,
   and through torch's per-song DataLoader over a Zstandard store (the path before
   the StoreLoader). Runs alternate, medians of five (targets: at least 20,000
   intervals/s from the store, and at least 90% of memory).
4. The default network, three epochs on 320 songs: from memory and from the store
   (target: at least 90%).
5. Peak resident memory of a fresh process training from a store of 5,000 songs
   (``--quick``: 1,000), one epoch of each network (target: under 2 GiB).

The process fixes glibc's allocator thresholds first, as ``songpop`` does.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import alternating_times, median_time, table

_ROOT = Path(__file__).parent.parent

#: One epoch of a network from a store, in a fresh process that reports its peak memory.
_PEAK = """
import json, sys
from sklearn_songpop._allocator import steady_allocator
steady_allocator()
from benchmarks.bench_feeding import harness
from sklearn_songpop.pipeline import make_songpop_pipeline
from sklearn_songpop.store import FeatureStore
from benchmarks._common import peak_mib
store = FeatureStore(sys.argv[1])
net = harness(1) if sys.argv[2] == "trivial" else make_songpop_pipeline(
    "default", random_state=0)[-1].set_params(max_epochs=1)
net.fit(store)
print(json.dumps({"peak_mib": peak_mib()}))
"""


def harness(epochs: int, **params):
    """The default classifier with a trivial network: everything but the network is timed."""
    import torch
    from sklearn.base import clone
    from torch import nn

    from sklearn_songpop.pipeline import make_songpop_pipeline

    class BandMeans(nn.Module):
        def __init__(self, n_classes: int = 2, n_bins: int = 64) -> None:
            super().__init__()
            self.linear = nn.Linear(n_bins, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.mean(dim=(1, 3)))

        def embed(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=(1, 3))

    net = clone(make_songpop_pipeline("default", random_state=0)[-1])
    return net.set_params(module=BandMeans, max_epochs=epochs, train_split=None,
                          callbacks=None, novelty_songs=0, **params)


def _spectrograms(n_distinct: int):
    """Float16 spectrograms of generated songs, as the default front end makes them."""
    from sklearn_songpop import make_songpop_pipeline, make_songs

    songs = make_songs(n_songs=n_distinct, n_artists=max(1, n_distinct // 8), duration=20.0,
                       random_state=0)
    front = make_songpop_pipeline("default", random_state=0)[:-1]
    return songs, np.asarray(front.fit_transform(songs.waveforms)).astype(np.float16)


def _codecs(values: np.ndarray, folder: Path) -> list[list[object]]:
    import zarr

    from sklearn_songpop.store import _compressors

    rows = []
    for name in (None, "lz4", "zstd"):
        path = folder / f"codec_{name}"
        array = zarr.create_array(str(path), shape=values.shape, dtype="float16",
                                  chunks=(64, *values.shape[1:]),
                                  compressors=_compressors(zarr, name, "float16"))
        t0 = time.perf_counter()
        array[:] = values
        write = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        read = median_time(lambda array=array: array[:], repeat=3)
        rows.append([name or "none", f"{values.nbytes / size:.2f}",
                     f"{len(values) / write:,.0f}", f"{len(values) / read:,.0f}"])
    return rows


def _stages(store, compression: str) -> list[list[object]]:
    """Each stage of an epoch from the store, alone, over all of the store's songs."""
    import torch

    from sklearn_songpop.augment import augment_batch
    from sklearn_songpop.batching import batch_sampler
    from sklearn_songpop.store import StoreDataset

    n, size = len(store), store.chunk_songs
    chunks = range(-(-n // size))
    rows = []
    if compression == "lz4":
        from numcodecs import blosc

        files = [store.path / "spectrograms" / store._spectrograms.metadata.encode_chunk_key(
            (c, 0, 0, 0)) for c in chunks]
        rows.append(["read the chunk files", median_time(
            lambda: [f.read_bytes() for f in files], repeat=3)])
        data = [f.read_bytes() for f in files]
        rows.append(["decompress (LZ4)", median_time(
            lambda: [blosc.decompress(d) for d in data], repeat=3)])
    else:
        rows.append(["map the chunk files and copy their pages", median_time(
            lambda: [np.array(store.read_chunk(c)) for c in chunks], repeat=3)])
    held = {c: torch.from_numpy(store.read_chunk(c)) for c in chunks}
    torch.manual_seed(0)
    batches = [np.asarray(b) for b in batch_sampler(StoreDataset(store), 16, shuffle=True)]

    def gather():
        return [torch.stack([held[r // size][r % size] for r in b.tolist()]) for b in batches]

    rows.append(["gather the songs of each batch (float16)", median_time(gather, repeat=3)])
    x16 = gather()
    rows.append(["float16 to float32", median_time(lambda: [x.float() for x in x16],
                                                   repeat=3)])
    x32 = [x.float() for x in x16]
    y = torch.zeros(16, dtype=torch.int64)
    net = harness(1)

    def crops():
        return [augment_batch(x, y[:len(x)], crop_frames=net.crop_frames, gain_db=net.gain_db,
                              filter_db=net.filter_db, freq_mask=net.freq_mask,
                              time_mask=net.time_mask, n_masks=net.n_masks,
                              mixup_alpha=net.mixup, n_classes=2)[0] for x in x32]

    rows.append(["crops and masks", median_time(crops, repeat=3)])
    cropped = crops()
    module = torch.nn.Linear(64, 2)
    optimizer = torch.optim.Adam(module.parameters())

    def steps():
        for x in cropped:
            optimizer.zero_grad()
            out = module(x.mean(dim=-1).reshape(-1, 64))
            torch.nn.functional.cross_entropy(out, torch.zeros(len(out), dtype=torch.int64))\
                .backward()
            optimizer.step()

    rows.append(["the network's steps (forward, backward, Adam)", median_time(steps, repeat=3)])
    return [[what, f"{seconds * 1000:.0f} ms", f"{n * 3 / seconds:,.0f}"]
            for what, seconds in rows]


def _harness_rows(stores: dict, X, y, epochs: int, repeat: int) -> list[list[object]]:
    from sklearn_songpop.store import ChunkShuffleSampler

    zstd = stores["zstd"]
    runs = {
        "arrays in memory": lambda: harness(epochs).fit(X, y),
        "store, uncompressed (StoreLoader)": lambda: harness(epochs).fit(stores[None]),
        "store, LZ4 (StoreLoader)": lambda: harness(epochs).fit(stores["lz4"]),
        "store, Zstandard, torch's DataLoader song by song (before)": lambda: harness(
            epochs, iterator_train__sampler=ChunkShuffleSampler(zstd.rows, zstd.chunk_songs),
            iterator_train__shuffle=False).fit(zstd),
    }
    times = alternating_times(runs, repeat)
    memory = statistics.median(times["arrays in memory"])
    rows = []
    for name, seconds in times.items():
        median = statistics.median(seconds)
        rows.append([name, f"{3 * len(X) * epochs / median:,.0f}",
                     f"{min(3 * len(X) * epochs / s for s in seconds):,.0f}-"
                     f"{max(3 * len(X) * epochs / s for s in seconds):,.0f}",
                     f"{memory / median:.2f}"])
    return rows


def _default_rows(store, X, y, repeat: int) -> list[list[object]]:
    from sklearn_songpop.pipeline import make_songpop_pipeline

    def net():
        return make_songpop_pipeline("default", random_state=0)[-1].set_params(max_epochs=3)

    times = alternating_times({"arrays in memory": lambda: net().fit(X, y),
                          "store, uncompressed": lambda: net().fit(store)}, repeat)
    memory = statistics.median(times["arrays in memory"])
    return [[f"default network, {name}", f"{3 * len(X) * 3 / statistics.median(s):,.0f}",
             f"{memory / statistics.median(s):.2f}"] for name, s in times.items()]


def _peak(store_path: Path, network: str) -> float:
    done = subprocess.run([sys.executable, "-c", _PEAK, str(store_path), network],
                          capture_output=True, text=True, cwd=_ROOT)
    if done.returncode:
        raise RuntimeError(f"the peak-memory run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"]


def run(quick: bool = False) -> str:
    from sklearn_songpop._allocator import steady_allocator
    from sklearn_songpop.pipeline import make_songpop_pipeline
    from sklearn_songpop.store import FeatureStore, write_features

    steady_allocator()
    n_distinct, n_songs, n_big = (64, 640, 1000) if quick else (128, 1600, 5000)
    repeat = 3 if quick else 5
    songs, values = _spectrograms(n_distinct)
    front = make_songpop_pipeline("default", random_state=0)[:-1]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        codec_rows = _codecs(np.concatenate([values] * 4), folder)
        # the generated songs, each listed several times: a store of n_songs
        waves = [songs.waveforms[i % n_distinct] for i in range(n_songs)]
        labels = np.asarray(songs.y)[np.arange(n_songs) % n_distinct]
        stores = {c: write_features(waves, folder / f"{c}.zarr", front, y=labels,
                                    compression=c, n_jobs=2) for c in (None, "lz4", "zstd")}
        X, y = stores[None][:], stores[None].y
        stage_rows = (_stages(stores[None], "none")
                      + _stages(stores["lz4"], "lz4")[:2])
        harness_rows = _harness_rows(stores, X, y, epochs=4, repeat=repeat)
        small = FeatureStore(write_features(waves[:320], folder / "small.zarr", front,
                                            y=labels[:320], n_jobs=2).path)
        default_rows = _default_rows(small, small[:], small.y, repeat=3)
        big_waves = [songs.waveforms[i % n_distinct] for i in range(n_big)]
        big = write_features(big_waves, folder / "big.zarr", front,
                             y=np.asarray(songs.y)[np.arange(n_big) % n_distinct], n_jobs=2)
        peaks = [_peak(big.path, "trivial"), _peak(big.path, "default")]
    return (
        f"## Feeding a network from the feature store on the CPU ({n_songs} songs of "
        f"{n_distinct} generated ones)\n\n"
        "Codecs, on float16 spectrograms of generated songs (one core):\n\n"
        + table(["compression", "times smaller", "written songs/s", "read songs/s"],
                codec_rows)
        + "\n\nAn epoch of the trivial network from the store, each stage alone (the last "
          "two rows: the same store with LZ4):\n\n"
        + table(["stage", "per epoch", "intervals/s"], stage_rows)
        + f"\n\nThe training harness with the trivial network, 4 epochs, medians of "
          f"{repeat} alternating runs (target: at least 20,000 intervals/s from the store, "
          "and at least 0.90 of memory):\n\n"
        + table(["fed from", "intervals/s", "range", "share of memory"], harness_rows)
        + "\n\nThe default network, 3 epochs on 320 songs (target: at least 0.90 of "
          "memory):\n\n"
        + table(["run", "intervals/s", "share of memory"], default_rows)
        + f"\n\nPeak resident memory of one epoch from a store of {n_big} songs, in a "
          f"fresh process: {peaks[0]:.0f} MiB with the trivial network, {peaks[1]:.0f} MiB "
          "with the default network (target: under 2,048 MiB)."
    )
