"""Crops and augmentations of spectrogram batches."""

import numpy as np
import pytest
import torch

from sklearn_songpop import augment


def frames(b=2, k=3, f=8, t=20):
    """Every cell holds its frame number, plus 1000 per band: crops and masks are visible."""
    x = torch.arange(t, dtype=torch.float32).expand(b, k, f, t).clone()
    return x + 1000 * torch.arange(f, dtype=torch.float32)[:, None]


def test_random_crop_takes_contiguous_frames_at_varied_starts():
    x = frames(b=16, t=50)
    torch.manual_seed(0)
    out = augment.random_crop(x, 10)
    assert out.shape == (16, 3, 8, 10)
    first = out[..., 0, :]  # band 0: the frame numbers themselves
    np.testing.assert_array_equal(np.diff(first.numpy(), axis=-1), 1.0)  # one run of frames
    starts = first[..., 0].flatten()
    assert starts.min() >= 0 and starts.max() <= 40
    assert len(torch.unique(starts)) > 10  # each interval its own start
    assert torch.equal(out[:, :, 3] - 3000, out[:, :, 0])  # every band cut at the same frames
    assert augment.random_crop(x, 50) is x and augment.random_crop(x, 80) is x


def test_crops_repeat_under_the_same_seed():
    x = frames(b=4, t=50)
    torch.manual_seed(3)
    a = augment.random_crop(x, 10)
    torch.manual_seed(3)
    b = augment.random_crop(x, 10)
    torch.manual_seed(4)
    c = augment.random_crop(x, 10)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("n_frames, width", [(259, 130), (130, 130), (131, 130), (1000, 64),
                                              (10, 130)])
def test_tiles_cover_every_frame(n_frames, width):
    starts = augment.crop_starts(n_frames, width)
    w = min(width, n_frames)
    covered = np.zeros(n_frames, bool)
    for s in starts:
        assert 0 <= s <= n_frames - w
        covered[s:s + w] = True
    assert covered.all()
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    if len(starts) > 1:  # neighbours overlap by about half a crop or more, and no tile is spare
        assert max(np.diff(starts)) <= w // 2 + 1
        assert len(starts) == int(np.ceil((n_frames - w) / (w // 2))) + 1
    tiles = augment.tile_crops(frames(t=n_frames), width)
    assert tiles.shape == (2, 3, len(starts), 8, w)
    assert tiles[0, 0, -1, 0, -1] == n_frames - 1  # the last crop ends on the last frame


def test_masks_hide_bands_or_frames_behind_the_mean():
    x = frames(b=32, t=20)
    torch.manual_seed(0)
    out = augment.mask_spans(x, 0.5, axis=-2, n_masks=1)
    mean = x.mean(dim=(-2, -1), keepdim=True).expand_as(x)
    changed = (out != x).any(dim=-1)  # (b, k, bands)
    whole_band = ((out == mean) | (out == x)).all(dim=-1)
    assert whole_band.all()  # a band is either untouched or all mean
    widths = changed.sum(dim=-1)
    assert widths.max() <= 4 and widths.max() >= 2 and (widths == 0).any()
    torch.manual_seed(0)
    out_t = augment.mask_spans(x, 0.25, axis=-1, n_masks=2)
    hidden_frames = (out_t != x).any(dim=-2)
    assert hidden_frames.sum(dim=-1).max() <= 10 and hidden_frames.any()
    with pytest.raises(ValueError, match="axis"):
        augment.mask_spans(x, 0.5, axis=1)


def test_gain_shifts_a_whole_interval_within_bounds():
    x = frames()
    torch.manual_seed(0)
    out = augment.shift_gain(x, 6.0)
    offset = out - x
    assert (offset.abs() <= 6.0).all()
    assert torch.allclose(offset, offset[..., :1, :1].expand_as(offset), atol=1e-3)
    assert len(torch.unique(offset[..., 0, 0])) == 6  # one level per interval


def test_filter_gives_each_band_of_an_interval_one_level_within_bounds():
    x = torch.zeros(16, 3, 8, 5)
    torch.manual_seed(0)
    out = augment.random_filter(x, 6.0, n_bands=3)
    level = out - x
    assert (level.abs() <= 6.0).all()
    assert torch.allclose(level, level[..., :1].expand_as(level), atol=1e-4)  # every frame
    per_bin = level[..., 0]  # (b, k, bins): steps between bands, flat inside one
    steps = (per_bin[..., 1:] - per_bin[..., :-1]).abs() > 1e-4
    assert steps.sum(dim=-1).max() == 2 and (steps.sum(dim=-1) == 2).float().mean() > 0.5
    # the same seed, the same filters; another seed, others
    torch.manual_seed(0)
    assert torch.equal(augment.random_filter(x, 6.0, n_bands=3), out)
    assert not torch.equal(augment.random_filter(x, 6.0, n_bands=3), out)
    with pytest.raises(ValueError, match="n_bands"):
        augment.random_filter(x, 6.0, n_bands=0)


def test_mixup_mixes_songs_and_labels_alike():
    torch.manual_seed(0)
    x = torch.stack([torch.full((3, 2, 4), float(i)) for i in range(6)])
    y = torch.arange(6)  # every song its own class: a mixed label names both songs
    xm, ym = augment.mixup(x, y, 0.4, 6)
    assert ym.shape == (6, 6) and torch.allclose(ym.sum(dim=1), torch.ones(6))
    assert ((ym > 0).sum(dim=1) <= 2).all() and ((ym > 0).sum(dim=1) == 2).any()
    # the audio is mixed with the weights of the labels
    expected = (ym * torch.arange(6.0)).sum(dim=1)
    assert torch.allclose(xm[:, 0, 0, 0], expected, atol=1e-5)
    assert torch.allclose(xm, xm[:, :1, :1, :1].expand_as(xm))
