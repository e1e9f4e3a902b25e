"""GPU figures, for a machine with one CUDA GPU: ``python -m benchmarks --only gpu``.

Not part of a plain ``python -m benchmarks`` run, and made to finish in under 5
minutes on one GPU with 16 cores:

1. Spectrograms of 3-second clips: ``SpectrogramTransformer(device="cuda")`` against
   the CPU, clips/s and the largest difference in dB (target: under 1e-3 dB).
2. The seed's experiment at full size: 803 one-minute MP3s, generated and written
   by every core in parts of their own seeds and artists (so not the songs of
   ``--only seed``, whose one generator would take minutes alone), turned into a
   feature store by every core's workers, then the default network trained on the GPU
   from the store and from the same arrays in memory, beside the network's own speed
   (its training steps on batches already on the GPU; target for the store: at least
   70% of it).
3. The same songs through both presets from the MP3s, fit and predict, with the
   networks (and the spectrograms) on the GPU, each preset in a fresh process.

``SONGPOP_BENCH_DEVICE=cpu`` runs the same script on the CPU, to check it.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from benchmarks._common import median_time, table


def _say(rows: list[list[object]]) -> list[list[object]]:
    """Print rows as they come, so a run cut short still shows what it measured."""
    for row in rows:
        print(" | ".join(map(str, row)), flush=True)
    return rows


def _spectrograms(device: str, quick: bool) -> list[list[object]]:
    from sklearn_songpop.spectrogram import SpectrogramTransformer

    sr, n = 22050, 64 if quick else 1024
    clips = (0.3 * np.random.default_rng(0).standard_normal((n, 3 * sr))).astype(np.float32)
    rows, reference = [], None
    for where, kwargs in (("cpu", {"n_jobs": -1}), (device, {"batch_size": 256})):
        tr = SpectrogramTransformer(device=where, **kwargs).fit(clips[:1])
        seconds = median_time(lambda tr=tr: tr.transform(clips), repeat=3)
        out = tr.transform(clips)
        reference = out if reference is None else reference
        rows.append([f"spectrograms of {n} 3-second clips", where, f"{n / seconds:.0f} clips/s",
                     f"largest difference from the CPU: "
                     f"{np.abs(out - reference).max():.2e} dB"])
    return rows


def _write_part(n_songs: int, part: int, folder: Path) -> list[dict[str, str]]:
    """Generate and write one part's songs; its manifest rows, paths and artists made unique."""
    from sklearn_songpop.datasets import make_songs, write_songs

    songs = make_songs(n_songs=n_songs, popular_fraction=176 / 803,
                       n_artists=max(1, round(n_songs / 10)), duration=60.0,
                       random_state=part)
    manifest = write_songs(songs, folder / f"part_{part:02d}", format="mp3")
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["path"] = f"part_{part:02d}/{row['path']}"
        row["artist"] = f"part_{part:02d}_{row['artist']}"
    return rows


def _write_songs(n_songs: int, folder: Path) -> Path:
    """``n_songs`` one-minute MP3s, in one part per core; the joined manifest."""
    parts = max(1, min(os.cpu_count() or 1, n_songs // 10))
    sizes = [len(a) for a in np.array_split(np.arange(n_songs), parts)]
    rows = [row for part in Parallel(n_jobs=parts)(
        delayed(_write_part)(size, i, folder) for i, size in enumerate(sizes)) for row in part]
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def _store_training(manifest: Path, folder: Path, device: str) -> list[list[object]]:
    from sklearn_songpop.datasets import load_manifest
    from sklearn_songpop.pipeline import make_songpop_pipeline
    from sklearn_songpop.store import write_features

    data = load_manifest(manifest)
    pipe = make_songpop_pipeline("default", random_state=0)
    t0 = time.perf_counter()
    store = write_features(data.paths, folder / "store.zarr", pipe[:-1], y=data.y,
                           groups=data.groups, chunk_songs=32, n_jobs=-1)
    t_write = time.perf_counter() - t0
    rows = [[f"`write_features` of {len(store)} MP3s, {os.cpu_count()} worker processes",
             "cpu", f"{len(store) / t_write:.0f} songs/s", f"{t_write:.0f} s"]]
    # the same songs and labels from memory, and the network alone: what feeding it costs
    bare = _bare_network(pipe[-1], device)
    rows.append(["default network alone (its batches already on the device, cropped)",
                 device, f"{bare:.0f} intervals/s", "-"])
    for name, X, y in (("the store", store, None), ("its arrays in memory", store[:], store.y)):
        net = clone(pipe[-1]).set_params(device=device)
        t0 = time.perf_counter()
        net.fit(X, y)
        t_fit = time.perf_counter() - t0
        epochs = len(net.history_)
        speed = 3 * len(store) * epochs / t_fit
        rows.append([f"default network trained from {name}", device,
                     f"{speed:.0f} intervals/s ({speed / bare:.0%} of the network alone)",
                     f"{t_fit:.1f} s ({epochs} epochs, {t_fit / epochs:.2f} s/epoch)"])
    return rows


def _bare_network(net, device: str, steps: int = 200) -> float:
    """Intervals/s of the network's own training steps, with nothing to load or augment.

    In the precision the estimator trains in (bfloat16 on a CPU that runs it natively).
    """
    import torch

    from sklearn_songpop._device import bf16_supported
    from sklearn_songpop.forward import module_outputs

    fast = device == "cpu" and bf16_supported()
    module = net.module(n_classes=2).to(device)
    if fast:
        module = module.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(module.parameters(), lr=net.lr)
    n = net.batch_size * 3  # a batch of songs, three intervals each
    x = torch.randn(n, 64, net.crop_frames or 259, device=device)
    y = torch.randint(0, 2, (n,), device=device)

    def step():
        optimizer.zero_grad()
        out = module_outputs(module, x, fast=fast)
        torch.nn.functional.cross_entropy(out, y).backward()
        optimizer.step()

    for _ in range(10):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps * n / (time.perf_counter() - t0)


def _seed(manifest: Path, device: str) -> list[list[object]]:
    rows = []
    for preset in ("default", "paper"):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_seed", preset, str(manifest), device],
            capture_output=True, text=True, cwd=Path(__file__).parent.parent)
        if out.returncode:
            raise RuntimeError(f"the {preset} preset's run failed:\n{out.stderr[-3000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append([f"the seed's experiment, {preset} preset: fit then predict", device,
                     f"{r['epochs']} epochs",
                     f"fit {r['fit']:.1f} s (decoding and spectrograms {r['front']:.1f} s), "
                     f"predict {r['predict']:.1f} s"])
    return rows


def run(quick: bool = False) -> str:
    import torch

    from sklearn_songpop._allocator import steady_allocator

    steady_allocator()  # as songpop does: the CPU's figures depend on it

    device = os.environ.get("SONGPOP_BENCH_DEVICE", "cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the GPU benchmark needs a CUDA GPU (torch.cuda.is_available() "
                           "is False); SONGPOP_BENCH_DEVICE=cpu runs it on the CPU")
    card = torch.cuda.get_device_name(0) if device == "cuda" else "no GPU (CPU run)"
    n_songs = 60 if quick else 803
    rows = _say(_spectrograms(device, quick))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        manifest = _write_songs(n_songs, Path(tmp) / "songs")
        t_gen = time.perf_counter() - t0
        print(f"{n_songs} songs generated and written in {t_gen:.0f} s", flush=True)
        rows += _say(_store_training(manifest, Path(tmp), device))
        rows += _say(_seed(manifest, device))
    return (f"## On one GPU: {card} ({os.cpu_count()} cores; {n_songs} one-minute MP3s "
            f"generated and written in {t_gen:.0f} s)\n\n"
            + table(["what", "device", "speed", "time"], rows))
