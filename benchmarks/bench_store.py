"""The feature store at catalogue size: memory, speed, one epoch, and resuming after a kill.

A manifest of 5,000 songs (``--quick``: 600): a few hundred generated one-minute MP3s,
each listed many times under other names (hard links: the sampler draws a song's
windows from its name and size, so every name gets windows of its own).

1. ``songpop features`` writes the store; peak resident memory (target: under 1.5 GB)
   and songs/s.
2. The in-memory path that the store replaces (the sampler's windows, then their
   spectrograms, held at once as ``Pipeline.fit`` holds them) on two smaller shares of
   the songs; its memory at full size is extrapolated along the line through them.
3. ``songpop train --features`` for one epoch; peak resident memory (target: under 2 GB).
4. ``songpop features`` again into a new folder, killed (SIGKILL) once about half of its
   chunks are done, then started again: the result must equal the uninterrupted store
   bit for bit.

Each command runs in a fresh process that reports its own peak (``VmHWM``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import table

#: The repository: the children import ``benchmarks._common`` from there.
_ROOT = Path(__file__).parent.parent

#: Runs a module's ``main`` as ``python -m`` would, then prints the peak memory as JSON.
_WRAPPER = """
import json, runpy, sys
module, sys.argv = sys.argv[1], sys.argv[1:]
try:
    runpy.run_module(module, run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
from benchmarks._common import peak_mib
print(json.dumps({"peak_mib": peak_mib()}), file=sys.stderr)
sys.exit(code)
"""

_IN_MEMORY = """
import json, sys
from sklearn_songpop.datasets import load_manifest
from sklearn_songpop.pipeline import make_songpop_pipeline
data = load_manifest(sys.argv[1])
front = make_songpop_pipeline("default", random_state=0)[:-1]
n = int(sys.argv[2])
windows = front[0].fit_transform(data.paths[:n])
spectrograms = front[1].fit_transform(windows)  # Pipeline.fit holds both here
from benchmarks._common import peak_mib
print(json.dumps({"peak_mib": peak_mib(), "windows_mib": windows.nbytes / 2**20}))
"""


def _run(args: list[str], **kwargs) -> tuple[float, float, str]:
    """Wall seconds, peak MiB and stdout of ``python -m sklearn_songpop.cli ARGS``."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, "sklearn_songpop.cli", *args],
                          capture_output=True, text=True, cwd=_ROOT, **kwargs)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"songpop {' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    peak = json.loads(done.stderr.strip().splitlines()[-1])["peak_mib"]
    return seconds, peak, done.stdout


def _catalogue(folder: Path, n_distinct: int, n_songs: int) -> Path:
    """``n_distinct`` one-minute MP3s, listed ``n_songs`` times under other names."""
    from sklearn_songpop.datasets import make_songs, write_songs

    sources = folder / "sources"
    rows = []
    for start in range(0, n_distinct, 50):  # 50 at a time: this process stays small
        count = min(50, n_distinct - start)
        songs = make_songs(n_songs=count, n_artists=max(1, count // 5), duration=60.0,
                           popular_fraction=0.25, random_state=start)
        manifest = write_songs(songs, sources / f"batch_{start:04d}", format="mp3", n_jobs=2)
        with open(manifest, encoding="utf-8") as f:
            rows += [(manifest.parent / r["path"], r["label"], f"{start}_{r['artist']}")
                     for r in csv.DictReader(f)]
        del songs
    names = folder / "catalogue"
    names.mkdir()
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["path", "label", "artist"])
        for i in range(n_songs):
            source, label, artist = rows[i % len(rows)]
            path = names / f"song_{i:05d}.mp3"
            try:
                os.link(source, path)
            except OSError:
                path.write_bytes(source.read_bytes())
            out.writerow([f"catalogue/{path.name}", label, artist])
    return folder / "manifest.csv"


def _killed_halfway(args: list[str], store: Path, n_chunks: int) -> int:
    """Start ``songpop features``, SIGKILL it once half of the chunks are done."""
    import zarr

    proc = subprocess.Popen([sys.executable, "-m", "sklearn_songpop.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = 0
    try:
        while proc.poll() is None:
            time.sleep(0.2)
            try:
                done = int(zarr.open_group(str(store), mode="r")["done"][:].sum())
            except (FileNotFoundError, KeyError, ValueError, OSError):
                continue  # not created yet
            if done >= n_chunks // 2:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.wait()
    if proc.returncode == 0:
        raise RuntimeError("songpop features finished before it could be killed")
    return done


def _same_store(a: Path, b: Path) -> bool:
    import zarr

    ra, rb = zarr.open_group(str(a), mode="r"), zarr.open_group(str(b), mode="r")
    return dict(ra.attrs) == dict(rb.attrs) and all(
        ra[name].dtype == rb[name].dtype and np.array_equal(ra[name][:], rb[name][:])
        for name in ("spectrograms", "status", "done"))


def run(quick: bool = False) -> str:
    n_distinct, n_songs, chunk = (60, 600, 32) if quick else (300, 5000, 64)
    small = (100, 200) if quick else (500, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        manifest = _catalogue(folder, n_distinct, n_songs)
        t_gen = time.perf_counter() - t0
        store = folder / "store.zarr"
        features = ["features", "--manifest", str(manifest), "--out", str(store),
                    "--chunk-songs", str(chunk)]
        t_write, peak_write, _ = _run(features)
        disk = sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 2**20

        in_memory = []
        for n in small:
            done = subprocess.run([sys.executable, "-c", _IN_MEMORY, str(manifest), str(n)],
                                  capture_output=True, text=True, check=True, cwd=_ROOT)
            in_memory.append(json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"])
        slope = (in_memory[1] - in_memory[0]) / (small[1] - small[0])
        estimate = in_memory[1] + slope * (n_songs - small[1])

        t_train, peak_train, said = _run(["train", "--features", str(store), "--out",
                                          str(folder / "model.joblib"),
                                          "--set", "classifier__max_epochs=1"])

        cut = folder / "cut.zarr"
        n_chunks = -(-n_songs // chunk)
        at_kill = _killed_halfway([*features[:4], str(cut), *features[5:]], cut, n_chunks)
        t_resume, _, _ = _run([*features[:4], str(cut), *features[5:]])
        same = _same_store(store, cut)
    assert same, "the resumed store differs from the uninterrupted one"
    rows = [
        [f"`songpop features` ({n_songs} songs, chunks of {chunk})", f"{t_write:.0f}",
         f"{n_songs / t_write:.1f}", f"{peak_write:.0f}", "< 1536"],
        [f"in memory, {small[0]} songs (windows and spectrograms held)", "-", "-",
         f"{in_memory[0]:.0f}", "-"],
        [f"in memory, {small[1]} songs", "-", "-", f"{in_memory[1]:.0f}", "-"],
        [f"in memory, {n_songs} songs (extrapolated: {slope:.2f} MiB a song)", "-", "-",
         f"{estimate:.0f}", "-"],
        ["`songpop train --features`, one epoch (with its validation)", f"{t_train:.0f}",
         f"{n_songs / t_train:.1f}", f"{peak_train:.0f}", "< 2048"],
        [f"`songpop features` killed after {at_kill} of {n_chunks} chunks, then run again",
         f"{t_resume:.0f} (the rest)", "-", "-", "equal bit for bit: "
         + ("yes" if same else "no")],
    ]
    return (f"## The feature store at catalogue size ({n_songs} songs: {n_distinct} "
            f"one-minute MP3s under {n_songs // n_distinct} names each, made in "
            f"{t_gen:.0f} s)\n\n"
            + table(["step", "seconds", "songs/s", "peak memory (MiB)", "target"], rows)
            + f"\n\nThe store takes {disk:.0f} MiB on disk (float16). The command said: "
            + said.strip().splitlines()[-1].replace(str(folder), "…"))
