"""Which torch device a step runs on: shared by the spectrogram step and the networks."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


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
