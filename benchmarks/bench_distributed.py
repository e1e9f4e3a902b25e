"""Data-parallel training on two CPU processes (gloo) against one: quality and speed.

``python -m benchmarks --only distributed`` (about 15 minutes on two cores; ``--quick``: 3).

Generated songs, folds by artist (``StratifiedGroupKFold(3)``), three training seeds.
The default network is trained on each fold and seed in one process, then with
``distributed=True`` in two processes started by ``torchrun`` (each with one thread,
as torchrun sets it), on the same songs and epochs. Reported: the test ROC AUC of each
(mean and spread over seeds, within folds), the log-mel baseline's and the majority
class's on the same folds, and the training intervals per second. Target: the same
ROC AUC as one process within the spread over seeds.

This module is also the script each process runs:
``python -m benchmarks.bench_distributed DATA.npz OUT.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import table

_ROOT = Path(__file__).parent.parent
SEEDS = (0, 1, 2)


def _data(n_songs: int, folder: Path) -> tuple[Path, list, object]:
    """The songs' windows (for the baseline) and spectrograms, and the folds, on disk."""
    from sklearn.model_selection import StratifiedGroupKFold

    from sklearn_songpop import make_songpop_pipeline, make_songs

    songs = make_songs(n_songs=n_songs, n_artists=n_songs // 5, duration=20.0,
                       random_state=0)
    front = make_songpop_pipeline("default", random_state=0)[:-1]
    windows = front[0].fit_transform(songs.waveforms)
    X = front[1].fit_transform(windows)
    y = np.asarray(songs.y)
    folds = list(StratifiedGroupKFold(3, shuffle=True, random_state=0)
                 .split(X, y, groups=songs.groups))
    path = folder / "data.npz"
    np.savez(path, X=X, y=y, **{f"test_{i}": test for i, (_, test) in enumerate(folds)})
    return path, folds, (windows, y)


def _baselines(windows, y, folds) -> dict[str, list[float]]:
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score

    from sklearn_songpop.baselines import make_baselines

    scores: dict[str, list[float]] = {}
    for name, model in make_baselines(random_state=0).items():
        for train, test in folds:
            fitted = clone(model).fit(windows[train], y[train])
            scores.setdefault(name, []).append(
                roc_auc_score(y[test], fitted.predict_proba(windows[test])[:, 1]))
    return scores


def _launch(data: Path, out: Path, processes: int) -> dict:
    if processes == 1:
        command = [sys.executable, "-m", "benchmarks.bench_distributed"]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node", str(processes), "-m", "benchmarks.bench_distributed"]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK")}
    done = subprocess.run([*command, str(data), str(out)], capture_output=True, text=True,
                          cwd=_ROOT, env=env)
    if done.returncode:
        raise RuntimeError(f"the {processes}-process run failed:\n{done.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def _worker(data: str, out: str) -> None:
    """Every fold and seed in this process (one of several under torchrun)."""
    from sklearn.metrics import roc_auc_score

    from sklearn_songpop._allocator import steady_allocator
    from sklearn_songpop.distributed import launched_by_torchrun
    from sklearn_songpop.pipeline import make_songpop_pipeline

    steady_allocator()
    arrays = np.load(data)
    X, y = arrays["X"], arrays["y"]
    results = []
    for fold in range(3):
        test = arrays[f"test_{fold}"]
        train = np.setdiff1d(np.arange(len(y)), test)
        for seed in SEEDS:
            net = make_songpop_pipeline("default", random_state=seed)[-1]
            net.set_params(distributed=launched_by_torchrun())
            t0 = time.perf_counter()
            net.fit(X[train], y[train])
            seconds = time.perf_counter() - t0
            auc = roc_auc_score(y[test], net.predict_proba(X[test])[:, 1])
            results.append({"fold": fold, "seed": seed, "auc": auc, "seconds": seconds,
                            "epochs": len(net.history),
                            "intervals": 3 * len(train) * len(net.history)})
    if int(os.environ.get("RANK", "0")) == 0:
        Path(out).write_text(json.dumps(results), encoding="utf-8")


def _within_fold_spread(results: list[dict]) -> tuple[float, float]:
    """Mean ROC AUC, and the mean over folds of the standard deviation over seeds."""
    by_fold: dict[int, list[float]] = {}
    for r in results:
        by_fold.setdefault(r["fold"], []).append(r["auc"])
    return (statistics.mean(r["auc"] for r in results),
            statistics.mean(statistics.stdev(v) for v in by_fold.values()))


def run(quick: bool = False) -> str:
    n_songs = 90 if quick else 240
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data, folds, (windows, y) = _data(n_songs, folder)
        baselines = _baselines(windows, y, folds)
        runs = {n: _launch(data, folder / f"out_{n}.json", n) for n in (1, 2)}
    rows = []
    for n, results in runs.items():
        mean, spread = _within_fold_spread(results)
        speed = sum(r["intervals"] for r in results) / sum(r["seconds"] for r in results)
        rows.append([f"default network, {n} process{'es' if n > 1 else ''}", f"{mean:.3f}",
                     f"{spread:.3f}", f"{speed:,.0f}",
                     f"{statistics.mean(r['epochs'] for r in results):.1f}"])
    for name, scores in baselines.items():
        rows.append([name, f"{statistics.mean(scores):.3f}", "-", "-", "-"])
    one, two = (_within_fold_spread(runs[n]) for n in (1, 2))
    same = abs(one[0] - two[0]) <= max(one[1], two[1])
    per_fit = {n: [r["auc"] for r in runs[n]] for n in (1, 2)}
    gap = float(np.mean(np.subtract(per_fit[2], per_fit[1])))
    return (f"## Data-parallel training on two CPU processes ({n_songs} generated songs, "
            f"{n_songs // 5} artists, 3 folds by artist, seeds {list(SEEDS)})\n\n"
            + table(["model", "test ROC AUC (mean)", "spread over seeds within folds",
                     "training intervals/s", "epochs"], rows)
            + f"\n\nTwo processes minus one, the same fold and seed: {gap:+.3f} ROC AUC on "
              f"average. Within the spread over seeds: {'yes' if same else 'no'}.")


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
