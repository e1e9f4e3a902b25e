"""Crops and augmentations of spectrogram batches, in plain torch.

Every function takes a batch of songs ``(batch, k, n_bins, n_frames)`` and
draws its random numbers from torch's global generator on the CPU, so a
caller that seeds it (the classifier does, from ``random_state``) gets the
same crops and masks on any device. Nothing here knows of skorch or
scikit-learn.
"""

from __future__ import annotations

import math

import torch

__all__ = ["augment_batch", "crop_starts", "mask_spans", "mixup", "random_crop",
           "random_filter", "shift_gain", "tile_crops"]


def _uniform_ints(high: torch.Tensor) -> torch.Tensor:
    """One integer drawn uniformly from ``[0, high]`` for every entry of ``high``."""
    return torch.floor(torch.rand(high.shape) * (high + 1).double()).long().clamp(max=high)


def random_crop(x: torch.Tensor, width: int) -> torch.Tensor:
    """Cut a random run of ``width`` frames out of every interval.

    Parameters
    ----------
    x : Tensor of shape (batch, k, n_bins, n_frames)
    width : int
        Frames to keep; at least ``n_frames`` returns ``x`` unchanged.

    Returns
    -------
    Tensor of shape (batch, k, n_bins, min(width, n_frames))
        Each interval cut at its own start, drawn uniformly.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> random_crop(torch.arange(10.0).reshape(1, 1, 1, 10), 4).shape
    torch.Size([1, 1, 1, 4])
    """
    b, k, f, t = x.shape
    if width >= t:
        return x
    starts = _uniform_ints(torch.full((b, k), t - width)).to(x.device)
    index = starts[:, :, None] + torch.arange(width, device=x.device)
    return x.gather(-1, index[:, :, None, :].expand(b, k, f, width))


def crop_starts(n_frames: int, width: int) -> list[int]:
    """Starts of the crops that tile an interval at prediction time.

    Crops of ``width`` frames overlap by about half and the last one ends at
    the last frame, so every frame is seen at least once.

    Parameters
    ----------
    n_frames : int
        Frames of the interval.
    width : int
        Frames of a crop.

    Returns
    -------
    list of int
        ``[0]`` when the interval is no longer than a crop.

    Examples
    --------
    >>> crop_starts(259, 130)
    [0, 64, 129]
    >>> crop_starts(100, 130)
    [0]
    """
    if width >= n_frames:
        return [0]
    n = math.ceil((n_frames - width) / max(1, width // 2)) + 1
    return [round(i * (n_frames - width) / (n - 1)) for i in range(n)]


def tile_crops(x: torch.Tensor, width: int) -> torch.Tensor:
    """Every crop of :func:`crop_starts`, on a new axis after the interval axis.

    Parameters
    ----------
    x : Tensor of shape (batch, k, n_bins, n_frames)
    width : int

    Returns
    -------
    Tensor of shape (batch, k, n_crops, n_bins, min(width, n_frames))

    Examples
    --------
    >>> import torch
    >>> tile_crops(torch.zeros(2, 3, 8, 259), 130).shape
    torch.Size([2, 3, 3, 8, 130])
    """
    width = min(width, x.shape[-1])
    return torch.stack([x[..., s:s + width] for s in crop_starts(x.shape[-1], width)], dim=2)


def mask_spans(x: torch.Tensor, max_width: float, axis: int, n_masks: int = 1) -> torch.Tensor:
    """SpecAugment's masks: set random bands (or runs of frames) to the interval's mean.

    Parameters
    ----------
    x : Tensor of shape (batch, k, n_bins, n_frames)
    max_width : float
        Largest width of a mask, as a fraction of the axis; each mask's width
        is drawn uniformly from 0 up to it.
    axis : {-2, -1}
        -2 masks frequency bands, -1 runs of frames.
    n_masks : int, default=1
        Masks per interval; they may overlap.

    Returns
    -------
    Tensor
        A masked copy of ``x``.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> y = mask_spans(x, 0.5, axis=-2)
    >>> y.shape, bool((y == x).all(dim=-1).sum() >= 2)
    (torch.Size([1, 1, 4, 4]), True)
    """
    if axis not in (-2, -1):
        raise ValueError(f"axis must be -2 (frequency) or -1 (time), got {axis}")
    size = x.shape[axis]
    b, k = x.shape[:2]
    hidden = torch.zeros(b, k, size, dtype=torch.bool)
    positions = torch.arange(size)
    for _ in range(n_masks):
        width = _uniform_ints(torch.full((b, k), int(max_width * size)))
        start = _uniform_ints(size - width)
        hidden |= (positions >= start[..., None]) & (positions < (start + width)[..., None])
    hidden = hidden.to(x.device)
    hidden = hidden[:, :, :, None] if axis == -2 else hidden[:, :, None, :]
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return torch.where(hidden, mean, x)


def shift_gain(x: torch.Tensor, max_db: float) -> torch.Tensor:
    """Add a random level, uniform in ``[-max_db, max_db]`` dB, to every interval.

    On a spectrogram in decibels this is the same song played louder or
    quieter.

    Parameters
    ----------
    x : Tensor of shape (batch, k, n_bins, n_frames)
    max_db : float

    Returns
    -------
    Tensor

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> y = shift_gain(torch.zeros(2, 3, 4, 5), 6.0)
    >>> bool((y.abs() <= 6.0).all()), bool((y == y[..., :1, :1]).all())
    (True, True)
    """
    b, k = x.shape[:2]
    offset = (torch.rand(b, k, 1, 1) * 2 - 1) * max_db
    return x + offset.to(device=x.device, dtype=x.dtype)


def random_filter(x: torch.Tensor, max_db: float, n_bands: int = 4) -> torch.Tensor:
    """Add a random gain in ``[-max_db, max_db]`` dB to each of ``n_bands`` frequency bands.

    The step filter of FilterAugment (Nam, Kim and Park 2022, "FilterAugment:
    an acoustic environmental data augmentation method"): every interval's
    frequency axis is cut into ``n_bands`` bands at random bins, and each band
    gets its own level, the same in every frame. On a spectrogram in decibels
    this is the same interval through another equaliser, or another room.

    Parameters
    ----------
    x : Tensor of shape (batch, k, n_bins, n_frames)
    max_db : float
    n_bands : int, default=4
        Bands per interval, cut at ``n_bands - 1`` bins drawn independently
        (two cuts on one bin make one band fewer).

    Returns
    -------
    Tensor

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> y = random_filter(torch.zeros(2, 3, 64, 5), 6.0)
    >>> bool((y.abs() <= 6.0).all()), bool((y == y[..., :1]).all())
    (True, True)
    >>> len(torch.unique(y[0, 0, :, 0]))
    4
    """
    if isinstance(n_bands, bool) or int(n_bands) != n_bands or n_bands < 1:
        raise ValueError(f"n_bands must be a positive integer, got {n_bands!r}")
    b, k, f = x.shape[:3]
    # the first bins of bands 2, 3...; two cuts on one bin leave a band empty
    cuts = torch.sort(torch.randint(1, max(f, 2), (b, k, n_bands - 1)), dim=-1).values
    band = (torch.arange(f)[:, None] >= cuts[:, :, None, :]).sum(dim=-1)  # (b, k, f)
    gains = (torch.rand(b, k, n_bands) * 2 - 1) * max_db
    level = torch.gather(gains, 2, band)[..., None]
    return x + level.to(device=x.device, dtype=x.dtype)


def mixup(
    x: torch.Tensor, y: torch.Tensor, alpha: float, n_classes: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix every song with another song of the batch (Zhang et al. 2018, "mixup").

    Parameters
    ----------
    x : Tensor of shape (batch, k, n_bins, n_frames)
    y : Tensor of shape (batch,)
        Class indices, or numbers when ``n_classes`` is None.
    alpha : float
        Both parameters of the Beta distribution of the mixing weight.
    n_classes : int or None
        None mixes the numbers in ``y`` themselves (regression).

    Returns
    -------
    x_mixed : Tensor of the shape of ``x``
    y_mixed : Tensor of shape (batch, n_classes), or (batch,) for numbers
        The mixed one-hot labels, which sum to one, or the mixed numbers.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> xm, ym = mixup(torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 0, 1]), 0.4, 2)
    >>> xm.shape, ym.shape, bool(torch.allclose(ym.sum(dim=1), torch.ones(4)))
    (torch.Size([4, 3, 8, 8]), torch.Size([4, 2]), True)
    >>> _, yn = mixup(torch.randn(4, 3, 8, 8), torch.tensor([0.0, 1.0, 2.0, 3.0]), 0.4, None)
    >>> bool(((yn >= 0) & (yn <= 3)).all())
    True
    """
    b = x.shape[0]
    lam = torch.distributions.Beta(alpha, alpha).sample((b,))
    partner = torch.randperm(b)
    if n_classes is None:
        target = y.float().cpu()
        y_mixed = lam * target + (1 - lam) * target[partner]
    else:
        onehot = torch.nn.functional.one_hot(y.long().cpu(), n_classes).float()
        y_mixed = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[partner]
    lam_x = lam.to(device=x.device, dtype=x.dtype)[:, None, None, None]
    x_mixed = lam_x * x + (1 - lam_x) * x[partner.to(x.device)]
    return x_mixed, y_mixed.to(x.device)


def augment_batch(x: torch.Tensor, y: torch.Tensor, *, crop_frames: int | None = None,
                  gain_db: float = 0.0, filter_db: float = 0.0, freq_mask: float = 0.0,
                  time_mask: float = 0.0, n_masks: int = 1, mixup_alpha: float = 0.0,
                  n_classes: int | None = None):
    """The random crop and the augmentations of one training batch, in the recipe's order.

    Parameters
    ----------
    x : Tensor of shape (batch, k, n_bins, n_frames)
    y : Tensor
        The targets as the network trains on them.
    crop_frames, gain_db, filter_db, freq_mask, time_mask, n_masks
        As the song networks' parameters of these names; 0 (None for the
        crop) leaves a step out.
    mixup_alpha : float, default=0.0
        The song networks' ``mixup``.
    n_classes : int or None, default=None
        Classes that mixup makes one-hot rows of; None mixes numbers.

    Returns
    -------
    x : Tensor of shape (batch, k, n_bins, crop)
    y : Tensor
        ``y``, or its mixed version with ``mixup_alpha``.

    Examples
    --------
    >>> x, y = augment_batch(torch.zeros(4, 3, 8, 20), torch.zeros(4), crop_frames=10)
    >>> tuple(x.shape), tuple(y.shape)
    ((4, 3, 8, 10), (4,))
    """
    if crop_frames is not None:
        x = random_crop(x, int(crop_frames))
    if gain_db:
        x = shift_gain(x, float(gain_db))
    if filter_db:
        x = random_filter(x, float(filter_db))
    if freq_mask:
        x = mask_spans(x, float(freq_mask), axis=-2, n_masks=n_masks)
    if time_mask:
        x = mask_spans(x, float(time_mask), axis=-1, n_masks=n_masks)
    if mixup_alpha:
        x, y = mixup(x, y, float(mixup_alpha), n_classes)
    return x, y
