"""Training cost: skorch against a plain torch loop, and float32 against the CPU fast path.

Targets (issue 4): skorch's overhead per epoch under 5% of a plain loop over the same
model and data; the fast path (bfloat16 autocast, channels-last) faster without a loss of
accuracy, for both networks.

Each allocator setting runs in a child process of its own, since glibc reads its
settings when a process starts. With glibc's defaults the mmap threshold moves with
the history of the heap (mallopt(3)), so the same loop can map fresh pages for its
activations on every batch in one run and reuse them in the next; minor page faults
per epoch are counted to show it. With fixed thresholds (32 MiB, the largest glibc
accepts, and a 256 MiB trim threshold) both loops reuse their memory, and the
comparison measures skorch rather than the heap.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from benchmarks._common import table
from sklearn_songpop.cli import STEADY_MALLOC

#: glibc settings of the second pass, those the ``songpop`` command sets for itself.
FIXED_MALLOC = {name: str(value) for name, value in STEADY_MALLOC.items()}


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _data(preset: str, n_songs: int, seed: int):
    from sklearn_songpop.datasets import make_songs
    from sklearn_songpop.pipeline import make_songpop_pipeline

    songs = make_songs(n_songs=n_songs, n_artists=max(4, n_songs // 10), duration=10.0,
                       random_state=seed)
    # 3-second windows for both presets: the nets are timed on the inputs they see in training
    front = make_songpop_pipeline(preset, random_state=0, intervals__sr=22050,
                                  intervals__duration=3.0, spectrogram__sr=22050)[:-1]
    return front.fit_transform(np.stack(songs.waveforms)), songs.y


def _plain_loop(module_cls, X, y, epochs, batch_size, lr, fast, seed=0):
    """The same training as the classifier, written as a bare torch loop.

    Returns the seconds and the minor page faults of each epoch.
    """
    torch.manual_seed(seed)
    kwargs = {"input_shape": X.shape[2:]} if module_cls.__name__ == "PaperCNN" else {}
    net = module_cls(n_classes=2, **kwargs)
    if fast:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xt, yt),
                                         batch_size=batch_size, shuffle=True)
    net.train()
    durations, faults = [], []
    for _ in range(epochs):
        f0, t0 = _faults(), time.perf_counter()
        for xb, yb in loader:
            b, k = xb.shape[:2]
            xb = xb.reshape(b * k, 1, *xb.shape[2:])
            if fast:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
                out = net(xb)
            loss = loss_fn(out.float(), yb.repeat_interleave(k))
            opt.zero_grad()
            loss.backward()
            opt.step()
        durations.append(time.perf_counter() - t0)
        faults.append(_faults() - f0)
    return durations, faults


def _measure(quick: bool) -> list[dict]:
    """Every row of the table, in this process."""
    from sklearn.metrics import balanced_accuracy_score
    from skorch.callbacks import Callback

    from sklearn_songpop.classifier import SpectrogramCNNClassifier
    from sklearn_songpop.nets import PaperCNN, SongpopCNN

    class EpochFaults(Callback):
        def on_epoch_begin(self, net, **kwargs):
            self.start_ = _faults()

        def on_epoch_end(self, net, **kwargs):
            net.history.record("faults", _faults() - self.start_)

    n_train, n_test = (60, 40) if quick else (160, 80)
    rows = []
    for preset, module, lr, batch, epochs, reps in (
        ("default", SongpopCNN, 1e-3, 16, 3 if quick else 6, 2 if quick else 3),
        ("paper", PaperCNN, 1e-4, 13, 2 if quick else 3, 2),
    ):
        X, y = _data(preset, n_train, seed=0)
        Xt, yt = _data(preset, n_test, seed=1)
        n_intervals = X.shape[0] * X.shape[1]
        for fast in (False, True):
            # skorch and the plain loop take turns, so that neither gets the warmer
            # machine; the first epoch of every run is left out
            skorch_s, skorch_f, plain_s, plain_f = [], [], [], []
            for _ in range(reps):
                clf = SpectrogramCNNClassifier(module, lr=lr, batch_size=batch,
                                               max_epochs=epochs, fast_path=fast,
                                               random_state=0, class_weight="balanced",
                                               callbacks=[EpochFaults()])
                clf.fit(X, y)
                skorch_s += [h["dur"] for h in clf.history_][1:]
                skorch_f += [h["faults"] for h in clf.history_][1:]
                seconds, faults = _plain_loop(module, X, y, epochs, batch, lr, fast)
                plain_s += seconds[1:]
                plain_f += faults[1:]
            t0 = time.perf_counter()
            pred = clf.predict(Xt)
            infer = (time.perf_counter() - t0) / (Xt.shape[0] * Xt.shape[1])
            rows.append({
                "net": module.__name__, "fast": fast, "intervals": n_intervals,
                "skorch_s": float(np.median(skorch_s)), "plain_s": float(np.median(plain_s)),
                "skorch_faults": float(np.median(skorch_f)),
                "plain_faults": float(np.median(plain_f)),
                "infer_per_s": 1 / infer,
                "balanced_accuracy": float(balanced_accuracy_score(yt, pred)),
            })
    return rows


def _in_child(quick: bool, env: dict[str, str]) -> list[dict]:
    cmd = [sys.executable, "-m", "benchmarks.bench_training"] + (["--quick"] if quick else [])
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(cmd, env={**child_env, **env}, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the training benchmark failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> str:
    rows = []
    for label, env in (("glibc defaults", {}), ("glibc, fixed thresholds", FIXED_MALLOC)):
        for r in _in_child(quick, env):
            rows.append([
                label, r["net"], "bf16 + channels-last" if r["fast"] else "float32",
                f"{r['intervals'] / r['skorch_s']:.0f}", f"{r['skorch_s']:.2f}",
                f"{r['plain_s']:.2f}", f"{(r['skorch_s'] / r['plain_s'] - 1) * 100:+.1f}%",
                f"{r['skorch_faults'] / 1000:.0f}k / {r['plain_faults'] / 1000:.0f}k",
                f"{r['infer_per_s']:.0f}", f"{r['balanced_accuracy']:.3f}",
            ])
    return "## Training and inference on the CPU\n\n" + table(
        ["allocator", "net", "precision", "train intervals/s", "skorch s/epoch",
         "plain torch s/epoch", "skorch overhead", "page faults/epoch skorch / plain",
         "inference intervals/s", "held-out balanced accuracy"], rows)


if __name__ == "__main__":
    print(json.dumps(_measure(quick="--quick" in sys.argv)))
