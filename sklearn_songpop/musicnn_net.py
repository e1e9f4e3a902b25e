"""musicnn in PyTorch: the network, its input, and its converted weights.

musicnn (Pons and Serra, "musicnn: pre-trained convolutional neural networks
for music audio tagging", ISMIR 2019 late-breaking demo; ISC licence, see
``sklearn_songpop/data/MUSICNN_LICENSE``) tags 3-second patches of music. The
facts this module follows are the published model's: 16 kHz audio, a
512-point FFT with a hop of 256, 96 mel bands compressed as
``log10(1 + 10000 x)`` after a cast to float16, patches of 187 frames; a
front end of timbral filters (7 frames by 38 and by 67 bands, 204 each) and
temporal filters (128, 64 and 32 frames by one band, 51 each), each max-pooled
over frequency; a mid end of three 7-frame convolutions of 64 channels, the
last two with residual connections; a back end that takes the maximum and
the mean over time of the front and mid ends' 753 channels, a 200-unit
penultimate layer and 50 tags. Every convolution and dense layer is followed
by a ReLU and then a batch norm (epsilon 0.001), as in the original.

The weights of ``MSD_musicnn`` (trained on the Million Song Dataset's 50 most
frequent tags) ship as ``sklearn_songpop/data/msd_musicnn.npz``, converted
from the checkpoint in the ``musicnn`` 0.1.0 wheel by
``tools/convert_musicnn.py``; they load without pickle.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MSD_TAGS", "MusicnnNet", "load_musicnn", "musicnn_melspectrogram"]

#: Sampling rate, FFT size, hop and mel bands of musicnn's input.
SR, N_FFT, HOP, N_MELS = 16_000, 512, 256, 96
#: Frames of one input patch (3 s at 16 kHz with a hop of 256).
PATCH_FRAMES = 187
#: Batch-norm epsilon of the original (TensorFlow's default).
_EPS = 1e-3

#: The 50 tags of ``MSD_musicnn``, in the order of its outputs (musicnn's
#: ``configuration.MSD_LABELS``).
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
    "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)

#: The layers :meth:`MusicnnNet.features` gives, and their sizes.
LAYERS = {"penultimate": 200, "mean_pool": 753, "max_pool": 753}


def _bn1d(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=_EPS)


class MusicnnNet(nn.Module):
    """musicnn's architecture (``MSD_musicnn`` sizes), for patches of log-mel frames.

    Parameters
    ----------
    n_tags : int, default=50
    n_mels : int, default=96

    Examples
    --------
    >>> net = MusicnnNet().eval()
    >>> net(torch.zeros(2, 187, 96)).shape
    torch.Size([2, 50])
    >>> {k: tuple(v.shape) for k, v in net.features(torch.zeros(2, 187, 96)).items()}
    {'penultimate': (2, 200), 'mean_pool': (2, 753), 'max_pool': (2, 753)}
    """

    def __init__(self, n_tags: int = 50, n_mels: int = N_MELS) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=_EPS)
        # timbral filters: 7 frames by 40% and by 70% of the bands
        self.timbral = nn.ModuleList([
            nn.Conv2d(1, 204, (7, int(0.4 * n_mels))), nn.Conv2d(1, 204, (7, int(0.7 * n_mels)))])
        self.timbral_bn = nn.ModuleList([nn.BatchNorm2d(204, eps=_EPS) for _ in range(2)])
        # temporal filters: 128, 64 and 32 frames by one band
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in (128, 64, 32)])
        self.temporal_bn = nn.ModuleList([nn.BatchNorm2d(51, eps=_EPS) for _ in range(3)])
        front = 2 * 204 + 3 * 51
        self.midend = nn.ModuleList([nn.Conv1d(front, 64, 7, padding=3),
                                     nn.Conv1d(64, 64, 7, padding=3),
                                     nn.Conv1d(64, 64, 7, padding=3)])
        self.midend_bn = nn.ModuleList([_bn1d(64) for _ in range(3)])
        self.pool_bn = _bn1d(2 * (front + 3 * 64))
        self.penultimate = nn.Linear(2 * (front + 3 * 64), 200)
        self.penultimate_bn = _bn1d(200)
        self.tags = nn.Linear(200, n_tags)

    def _front_end(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, bands)`` to ``(batch, 561, frames)``."""
        x = self.input_bn(x[:, None])
        out = []
        padded = F.pad(x, (0, 0, 3, 3))  # 'same' in time; valid across the bands
        for conv, bn in zip(self.timbral, self.timbral_bn, strict=True):
            out.append(_pooled_over_bands(conv(padded), bn))
        for conv, bn in zip(self.temporal, self.temporal_bn, strict=True):
            k = conv.kernel_size[0]  # TensorFlow's 'same': the extra frame goes after
            out.append(_pooled_over_bands(
                conv(F.pad(x, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2))), bn))
        return torch.cat(out, dim=1)

    def _pooled(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The maximum and the mean over time of the front and mid ends' channels."""
        front = self._front_end(x)
        maps = [front]
        h = front
        for i, (conv, bn) in enumerate(zip(self.midend, self.midend_bn, strict=True)):
            y = bn(F.relu(conv(h)))
            h = y if i == 0 else y + h
            maps.append(h)
        maps = torch.cat(maps, dim=1)
        return maps.amax(dim=2), maps.mean(dim=2)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The layers a user can take as embeddings, for ``(batch, frames, bands)`` patches.

        Parameters
        ----------
        x : Tensor of shape (batch, frames, n_mels)

        Returns
        -------
        dict of str to Tensor
            ``penultimate`` (batch, 200), ``mean_pool`` and ``max_pool`` (batch, 753).
        """
        max_pool, mean_pool = self._pooled(x)
        return {"penultimate": self._penultimate(max_pool, mean_pool),
                "mean_pool": mean_pool, "max_pool": max_pool}

    def _penultimate(self, max_pool: torch.Tensor, mean_pool: torch.Tensor) -> torch.Tensor:
        # the original flattens (channels, [max, mean]): the two alternate
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        return self.penultimate_bn(F.relu(self.penultimate(self.pool_bn(flat))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tag logits of ``(batch, frames, n_mels)`` patches; a sigmoid gives probabilities.

        Parameters
        ----------
        x : Tensor of shape (batch, frames, n_mels)

        Returns
        -------
        Tensor of shape (batch, n_tags)
        """
        return self.tags(self._penultimate(*self._pooled(x)))


def _pooled_over_bands(y: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """``bn(relu(y))`` max-pooled over the bands, ``(batch, channels, frames)``.

    In eval mode the batch norm is an increasing map of each channel where its
    scale is positive and a decreasing one where it is negative, and so is the
    ReLU before it: the maximum over the bands is the same map of the maximum
    (or of the minimum) of ``y``. Pooling first spares two passes over the
    whole ``(batch, channels, frames, bands)`` map, the larger part of the
    front end's time.
    """
    if bn.training:
        return bn(F.relu(y)).amax(dim=3)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    top = torch.where((scale >= 0)[:, None], y.amax(dim=3), y.amin(dim=3))
    return F.batch_norm(F.relu(top), bn.running_mean, bn.running_var, bn.weight, bn.bias,
                        False, 0.0, bn.eps)


def load_musicnn(name: str = "MSD_musicnn") -> MusicnnNet:
    """The converted ``MSD_musicnn``, in eval mode.

    Parameters
    ----------
    name : {"MSD_musicnn"}, default="MSD_musicnn"

    Returns
    -------
    MusicnnNet

    Examples
    --------
    >>> net = load_musicnn()
    >>> net.training, sum(p.numel() for p in net.parameters())
    (False, 787159)
    """
    if name != "MSD_musicnn":
        raise ValueError(f"name must be 'MSD_musicnn' (the weights that ship), got {name!r}")
    source = resources.files("sklearn_songpop") / "data" / "msd_musicnn.npz"
    with resources.as_file(source) as path, np.load(path, allow_pickle=False) as saved:
        state = {k: torch.from_numpy(saved[k]) for k in saved.files}
    net = MusicnnNet()
    net.load_state_dict(state)
    return net.eval()


def musicnn_melspectrogram(waveforms: torch.Tensor) -> torch.Tensor:
    """musicnn's input: 96 log-compressed mel bands of 16-kHz audio, frames first.

    What musicnn computes with librosa (power spectrogram of a centred,
    zero-padded 512-point STFT with a periodic Hann window, hop 256;
    Slaney mel filters), then ``log10(1 + 10000 x)`` rounded to float16 at
    each step as musicnn's float16 arithmetic does. Where musicnn's
    ``10000 x`` overflows float16 (above 6.55, which loud pure tones reach)
    and gives infinity, the value is kept in float32 instead.

    Parameters
    ----------
    waveforms : Tensor of shape (..., samples)
        At 16 kHz.

    Returns
    -------
    Tensor of shape (..., 1 + samples // 256, 96), float32

    Examples
    --------
    >>> musicnn_melspectrogram(torch.zeros(2, 16000)).shape
    torch.Size([2, 63, 96])
    """
    import librosa

    lead = waveforms.shape[:-1]
    flat = waveforms.reshape(-1, waveforms.shape[-1]).float()
    spec = torch.stft(flat, N_FFT, HOP, window=torch.hann_window(N_FFT, device=flat.device),
                      center=True, pad_mode="constant", return_complex=True)
    power = spec.real.square() + spec.imag.square()  # (batch, bins, frames)
    mel_basis = torch.as_tensor(librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS),
                                dtype=torch.float32, device=flat.device)
    mel = _half((mel_basis @ power).transpose(1, 2))
    logc = _half(torch.log10(_half(_half(10000.0 * mel) + 1.0)))
    return logc.reshape(*lead, mel.shape[1], N_MELS)


def _half(x: torch.Tensor) -> torch.Tensor:
    """Rounded to float16 as musicnn's arithmetic rounds, kept in float32 where float16
    would overflow (musicnn's own code gives infinity there, from loud pure tones)."""
    rounded = x.half().float()
    return torch.where(torch.isfinite(rounded), rounded, x)
