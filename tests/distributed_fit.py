"""One process of a data-parallel fit, for ``torchrun`` (tests/test_distributed.py).

Usage: ``torchrun --nproc_per_node N tests/distributed_fit.py DATA.npz OUT [PARAM=VALUE ...]``,
with more fits after ``--``.
Each process fits ``SpectrogramCNNClassifier(distributed=WORLD_SIZE > 1, ...)`` on the
songs of DATA.npz and writes its weights and predicted probabilities to ``OUT_RANK.npz``.
"""

import ast
import os
import sys

import numpy as np
import torch
from skorch.dataset import ValidSplit
from torch import nn

from sklearn_songpop import SongEarlyStopping, SpectrogramCNNClassifier


class MeanLinear(nn.Module):
    """A network with nothing random in it: each spectrogram's band means, then a linear layer."""

    def __init__(self, n_classes=2, n_bins=8):
        super().__init__()
        self.linear = nn.Linear(n_bins, n_classes)

    def forward(self, x):
        return self.linear(x.mean(dim=(1, 3)))

    def embed(self, x):
        return x.mean(dim=(1, 3))


def main(data: str, out: str, *settings: str) -> None:
    arrays = np.load(data)
    params = {"random_state": 0}
    named = {"MeanLinear": MeanLinear,
             # a split without a seed and early stopping: every process must agree on both
             "unseeded_split": ValidSplit(0.25, stratified=True),
             "early_stopping": [("early_stopping", SongEarlyStopping(patience=1))]}
    for setting in settings:
        name, value = setting.split("=", 1)
        params[name] = named[value] if value in named else ast.literal_eval(value)
    clf = SpectrogramCNNClassifier(distributed=int(os.environ.get("WORLD_SIZE", "1")) > 1,
                                   **params)
    clf.fit(arrays["X"], arrays["y"])
    # the weights and the buffers (batch-norm statistics)
    weights = np.concatenate([t.detach().numpy().ravel().astype(np.float64)
                              for t in clf.module_.state_dict().values()])
    np.savez(f"{out}_{os.environ.get('RANK', '0')}.npz", weights=weights,
             proba=clf.predict_proba(arrays["X_test"]), epochs=len(clf.history))


if __name__ == "__main__":
    # several fits in one start, separated by "--": DATA OUT [PARAM=VALUE ...] -- DATA OUT ...
    job: list[str] = []
    for arg in [*sys.argv[1:], "--"]:
        if arg == "--":
            main(*job)
            job = []
        else:
            job.append(arg)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
