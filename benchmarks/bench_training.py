"""Training cost: skorch against a plain torch loop, and float32 against the CPU fast path.

Targets (issue 4): skorch's overhead per epoch under 5% of a plain loop over the same
model and data; the fast path (bfloat16 autocast, channels-last) faster without a loss of
accuracy, for both networks.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks._common import table


def _data(preset: str, n_songs: int, seed: int):
    from sklearn_songpop.datasets import make_songs
    from sklearn_songpop.pipeline import make_songpop_pipeline

    songs = make_songs(n_songs=n_songs, n_artists=max(4, n_songs // 10), duration=10.0,
                       random_state=seed)
    front = make_songpop_pipeline(preset, random_state=0, intervals__sr=22050,
                                  spectrogram__sr=22050)[:-1]
    return front.fit_transform(np.stack(songs.waveforms)), songs.y


def _plain_loop(module_cls, X, y, epochs, batch_size, lr, fast, seed=0) -> list[float]:
    """The same training as the classifier, written as a bare torch loop; seconds of each epoch."""
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
    durations = []
    for _ in range(epochs):
        t0 = time.perf_counter()
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
    return durations


def run(quick: bool = False) -> str:
    from sklearn.metrics import balanced_accuracy_score

    from sklearn_songpop.classifier import SpectrogramCNNClassifier
    from sklearn_songpop.nets import PaperCNN, SongpopCNN

    n_train, n_test = (60, 40) if quick else (160, 80)
    rows = []
    for preset, module, lr, batch, epochs, reps in (
        ("default", SongpopCNN, 1e-3, 16, 3 if quick else 6, 2 if quick else 4),
        ("paper", PaperCNN, 1e-4, 13, 2 if quick else 3, 2),
    ):
        X, y = _data(preset, n_train, seed=0)
        Xt, yt = _data(preset, n_test, seed=1)
        n_intervals = X.shape[0] * X.shape[1]
        for fast in (False, True):
            # skorch and the plain loop take turns, so that neither gets the warmer
            # machine; the first epoch of every run is left out
            skorch_epochs, plain_epochs = [], []
            for _ in range(reps):
                clf = SpectrogramCNNClassifier(module, lr=lr, batch_size=batch,
                                               max_epochs=epochs, fast_path=fast,
                                               random_state=0, class_weight="balanced")
                t0 = time.perf_counter()
                clf.fit(X, y)
                skorch_epochs += [h["dur"] for h in clf.history_][1:]
                plain_epochs += _plain_loop(module, X, y, epochs, batch, lr, fast)[1:]
            skorch_s, plain_s = np.median(skorch_epochs), np.median(plain_epochs)
            t0 = time.perf_counter()
            pred = clf.predict(Xt)
            infer = (time.perf_counter() - t0) / (Xt.shape[0] * Xt.shape[1])
            rows.append([
                module.__name__, "bf16 + channels-last" if fast else "float32",
                f"{n_intervals / skorch_s:.0f}", f"{skorch_s:.2f}", f"{plain_s:.2f}",
                f"{(skorch_s / plain_s - 1) * 100:+.1f}%", f"{1 / infer:.0f}",
                f"{balanced_accuracy_score(yt, pred):.3f}",
            ])
    return "## Training and inference on the CPU\n\n" + table(
        ["net", "precision", "train intervals/s", "skorch s/epoch", "plain torch s/epoch",
         "skorch overhead", "inference intervals/s", "held-out balanced accuracy"], rows)
