"""Which torch device a step runs on, whether the CPU has a bfloat16 fast path, and
seeding torch from a ``random_state``.

Shared by the spectrogram step and the networks.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["bf16_supported", "resolve_device", "seeded"]


def resolve_device(device: str | torch.device | None) -> str:
    """Turn ``"auto"`` into ``"cuda"`` where a GPU is present, else ``"cpu"``.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"``, or any device torch accepts.

    Returns
    -------
    str
        A device string torch accepts.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device is None:
        return "cpu"
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (AVX512-BF16 or AMX).

    Returns
    -------
    bool
    """
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - depends on the torch build
        return False


@contextmanager
def seeded(random_state, device: str = "cpu"):
    """Seed torch from ``random_state``, restoring its global generator afterwards.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        None leaves torch's generator alone.
    device : str, default="cpu"
        A CUDA device's generator is forked too.

    Examples
    --------
    >>> with seeded(0):
    ...     a = torch.rand(1)
    >>> with seeded(0):
    ...     b = torch.rand(1)
    >>> bool(a == b)
    True
    """
    if random_state is None:
        yield
        return
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    devices = [torch.cuda.current_device()] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
