"""How a network reads stacks of intervals: one spectrogram at a time, crops combined.

A song network's module reads single spectrograms ``(batch, 1, n_bins,
n_frames)``. These functions give it any stack of intervals (songs, their
intervals, the crops that tile each interval), in bfloat16 on CPUs that run
it natively, and put the answers back in the stack's shape. They hold tensors
only: the estimators in :mod:`sklearn_songpop.songnet` decide what to ask.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sklearn_songpop import augment

__all__ = ["OUTPUTS", "embedding_function", "interval_outputs", "module_outputs"]

#: What a forward pass over intervals gives: the network's outputs, the
#: embedding before its last layer, or the mean and the variance of the
#: embeddings of the crops that tile each interval.
OUTPUTS = ("outputs", "embedding", "moments")


def embedding_function(module: torch.nn.Module) -> Callable:
    """The module's ``embed`` (or else ``features``): the layer before its last.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    callable

    Raises
    ------
    TypeError
        When the module has neither method.

    Examples
    --------
    >>> embedding_function(torch.nn.Linear(2, 2))
    Traceback (most recent call last):
    ...
    TypeError: Linear has no embed(x) or features(x) method, ...
    """
    embed = getattr(module, "embed", None) or getattr(module, "features", None)
    if embed is None:
        raise TypeError(
            f"{type(module).__name__} has no embed(x) or features(x) method, so there is "
            "no embedding to measure novelty on; give the module one that returns the "
            "layer before its last"
        )
    return embed


def module_outputs(module: torch.nn.Module, x: torch.Tensor, *, embed: bool = False,
                   fast: bool = False, **fit_params) -> torch.Tensor:
    """The module's outputs (or embeddings) for a stack of spectrograms.

    Parameters
    ----------
    module : torch.nn.Module
        Reads ``(batch, 1, n_bins, n_frames)``.
    x : Tensor of shape (..., n_bins, n_frames)
    embed : bool, default=False
        Give :func:`embedding_function`'s output instead of ``forward``'s.
    fast : bool, default=False
        Run in bfloat16, channels last (a CPU with native bfloat16).
    **fit_params
        Passed to the module.

    Returns
    -------
    Tensor of shape (..., n), float32

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 4))
    >>> module_outputs(net, torch.zeros(2, 3, 2, 3)).shape
    torch.Size([2, 3, 4])
    """
    lead = x.shape[:-2]
    x = x.reshape(lead.numel(), 1, *x.shape[-2:]).float()
    if fast:
        x = x.contiguous(memory_format=torch.channels_last)
    forward = embedding_function(module) if embed else module
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
        out = forward(x, **fit_params)
    return out.float().reshape(*lead, out.shape[-1])


def interval_outputs(module: torch.nn.Module, x: torch.Tensor, *, output: str = "outputs",
                     crop_frames: int | None = None, fast: bool = False,
                     combine: Callable | None = None, **fit_params) -> torch.Tensor:
    """What the module gives for every interval of a batch of songs.

    In training (``module.training``) the batch comes already cropped.
    Otherwise, with ``crop_frames``, an interval's output combines those of
    the crops that tile it.

    Parameters
    ----------
    module : torch.nn.Module
    x : Tensor of shape (batch, k, n_bins, n_frames)
    output : {"outputs", "embedding", "moments"}, default="outputs"
        One of :data:`OUTPUTS`. ``"moments"`` gives the mean and the variance
        of the crops' embeddings, ``2 * dim`` values (one crop, the whole
        interval, without ``crop_frames``).
    crop_frames : int or None, default=None
    fast : bool, default=False
        As in :func:`module_outputs`.
    combine : callable or None, default=None
        An interval's output from its crops' ``(batch, k, n_crops, n)``
        outputs; None takes their mean. Embeddings always take the mean.
    **fit_params
        Passed to the module.

    Returns
    -------
    Tensor of shape (batch, k, n), float32

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 4)).eval()
    >>> interval_outputs(net, torch.zeros(2, 3, 2, 6), crop_frames=4).shape
    torch.Size([2, 3, 4])
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    embed = output != "outputs"
    if output != "moments" and (module.training or crop_frames is None):
        return module_outputs(module, x, embed=embed, fast=fast, **fit_params)
    crops = x[:, :, None] if crop_frames is None else augment.tile_crops(x, int(crop_frames))
    outputs = module_outputs(module, crops, embed=embed, fast=fast, **fit_params)
    if output == "moments":
        return torch.cat([outputs.mean(dim=2), outputs.var(dim=2, unbiased=False)], dim=-1)
    if embed or combine is None:
        return outputs.mean(dim=2)
    return combine(outputs)
