"""Timing helpers and the machine description shared by the benchmarks."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def alternating_times(
    runs: dict[str, Callable[[], object]], repeat: int = 5
) -> dict[str, list[float]]:
    """Wall times of each run, the runs taken in turn ``repeat`` times after one warm-up each.

    On a shared machine the speed drifts over minutes; alternating the runs makes
    the drift weigh on all of them alike, so their ratios hold still.
    """
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def paired_times(
    reference: Callable[[], object], candidate: Callable[[], object], repeat: int = 5
) -> tuple[float, float]:
    """Median wall times of two functions run in turn (:func:`alternating_times`)."""
    times = alternating_times({"reference": reference, "candidate": candidate}, repeat)
    return statistics.median(times["reference"]), statistics.median(times["candidate"])


def peak_mib() -> float:
    """Peak resident memory of this process (VmHWM, which exec resets; ru_maxrss does not)."""
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """One line naming the CPU, the cores and the library versions."""
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads)")


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def stereo_song(seconds: float, sr: int = 44100, random_state: int = 0) -> np.ndarray:
    """A generated stereo song at CD rate, as most real files are: ``(2, samples)``.

    A 30-second generated song repeated to ``seconds``; the right channel is the
    left one, 10 ms later and quieter.
    """
    from sklearn_songpop.datasets import make_songs

    loop = make_songs(n_songs=1, duration=30.0, sr=sr, random_state=random_state).waveforms[0]
    left = np.resize(loop, int(seconds * sr))
    return np.stack([left, 0.8 * np.roll(left, sr // 100)])


def cached_json(path: Path, compute: Callable[[], object]) -> tuple[object, float | None, bool]:
    """A benchmark part's value, computed once and kept in ``path`` with its compute time,
    so that an interrupted run goes on where it stopped.

    Returns
    -------
    tuple
        The value, the seconds it took (None where an old file kept none), and whether
        it was read back rather than computed now.
    """
    import json

    if path.is_file():
        kept = json.loads(path.read_text(encoding="utf-8"))
        return kept["value"], kept.get("seconds"), True
    t0 = time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"value": value, "seconds": seconds}), encoding="utf-8")
    return value, seconds, False
