"""SpectrogramTransformer: the second step, windows of samples to spectrograms.

The work is done in batches with ``torch.stft`` and, for the mel kind, one
matrix product with a mel filter bank; no per-clip loop of librosa calls.
This module knows nothing of files or networks.
"""

from __future__ import annotations

import functools
from numbers import Integral, Real

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from sklearn_songpop._device import resolve_device
from sklearn_songpop._parallel import chunk_slices, local_threads

__all__ = ["SpectrogramTransformer"]

_KINDS = ("mel", "stft", "paper")
#: per kind: (n_fft, hop_length, output_shape) used when the parameter is None
_KIND_DEFAULTS = {
    "mel": (2048, 512, None),
    "stft": (2048, 512, None),
    "paper": (300, 450, (160, 160)),
}
_AMIN = 1e-10  # power floor before the logarithm, as librosa.power_to_db


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The periodic Hann window, made once per size, type and device (read-only)."""
    return torch.hann_window(n_fft, periodic=True, dtype=dtype, device=device)


def _power_to_db(power: torch.Tensor, top_db: float | None) -> torch.Tensor:
    """``10 log10(power)`` with reference 1, floored ``top_db`` below each clip's peak."""
    db = 10.0 * torch.log10(torch.clamp(power, min=_AMIN))
    if top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db


def _paper_image(power: torch.Tensor) -> torch.Tensor:
    """The seed's image: power over its maximum, in dB, then min-max scaled to [0, 1]."""
    peak = power.amax(dim=(-2, -1), keepdim=True)
    db = 10.0 * torch.log10(torch.clamp(power / torch.clamp(peak, min=_AMIN), min=_AMIN))
    lo = db.amin(dim=(-2, -1), keepdim=True)
    hi = db.amax(dim=(-2, -1), keepdim=True)
    span = hi - lo
    # a constant clip (silence) has no contrast: it maps to zeros, not 0/0
    return torch.where(span > 0, (db - lo) / torch.where(span > 0, span, 1.0), 0.0)


def _mel_blocks(basis: np.ndarray, size: int = 16) -> list[tuple[int, int, np.ndarray]]:
    """Blocks of ``size`` consecutive bands: the range of bins where any is non-zero,
    and the bands' weights over that range."""
    nonzero = basis > 0
    has = nonzero.any(axis=1)
    first = np.where(has, nonzero.argmax(axis=1), 0)
    last = np.where(has, basis.shape[1] - nonzero[:, ::-1].argmax(axis=1), 1)
    blocks = []
    for b0 in range(0, basis.shape[0], size):
        b1 = min(b0 + size, basis.shape[0])
        f0, f1 = int(first[b0:b1].min()), int(last[b0:b1].max())
        blocks.append((f0, f1, np.ascontiguousarray(basis[b0:b1, f0:f1])))
    return blocks


class SpectrogramTransformer(TransformerMixin, BaseEstimator):
    """Turn windows of samples into log spectrograms, batched and vectorised.

    Parameters
    ----------
    kind : {"mel", "stft", "paper"}, default="mel"
        ``"mel"``: mel power spectrogram in dB. ``"stft"``: linear-frequency
        power (squared magnitude) in dB, equal to
        ``librosa.amplitude_to_db(abs(stft))``. ``"paper"``: the seed paper's
        image: a magnitude STFT with a 300-sample Hann window and a hop of 450
        samples (the seed's R code passes ``overlap=-150``, which leaves gaps of
        150 samples between windows; its prose describes an overlap), power
        normalised to its maximum, in dB, min-max scaled to [0, 1] and resized
        to 160x160 with antialiasing.
    sr : int, default=22050
        Sampling rate of the input, in Hz (used by the mel filter bank and the
        plots).
    n_fft : int or None, default=None
        FFT and window length in samples; None is 2048 for ``"mel"`` and
        ``"stft"``, 300 for ``"paper"``.
    hop_length : int or None, default=None
        Samples between frames; None is 512 for ``"mel"`` and ``"stft"``, 450
        for ``"paper"``.
    n_mels : int, default=128
        Mel bands (``kind="mel"`` only).
    fmin : float, default=0.0
        Lowest mel band edge, in Hz.
    fmax : float or None, default=None
        Highest mel band edge, in Hz; None is ``sr / 2``.
    top_db : float or None, default=80.0
        Floor of each clip, in dB below its own peak (``"mel"`` and ``"stft"``).
        None keeps librosa's absolute floor of -100 dB only.
    output_shape : tuple of (int, int) or None, default=None
        Resize every spectrogram to ``(n_bins, n_frames)`` with antialiased
        bilinear interpolation; None keeps the natural shape, except for
        ``"paper"`` where it is ``(160, 160)``.
    dtype : {"float32", "float16"}, default="float32"
        Output type; float16 halves the memory of a large feature cache.
    batch_size : int, default=4
        Clips per torch call. On 2 CPU cores, 1 to 4 clips a call were fastest
        (larger batches leave the cache); see the benchmarks.
    n_jobs : int or None, default=None
        Threads computing batches in parallel; None means 1 unless inside a
        :func:`joblib.parallel_config` context that sets ``n_jobs``, and -1
        means every core of this machine. The jobs stay in this process under
        every joblib backend, Dask's included: sending a window to another
        process costs more than its spectrogram (measured in the benchmarks).
        torch already spreads one batch over its own threads, so on a few
        cores 1 is often fastest.
    device : str, default="cpu"
        Where the spectrograms are computed: ``"cpu"``, ``"cuda"`` (or
        ``"cuda:N"``), or ``"auto"`` for a GPU when there is one. The output
        is a numpy array either way; a GPU's spectrograms equal the CPU's
        within 1e-3 dB.

    Attributes
    ----------
    n_fft_ : int
        The FFT length in use.
    hop_length_ : int
        The hop in use.
    output_shape_ : tuple of int or None
        The resize target in use.
    mel_basis_ : ndarray of shape (n_mels, ``n_fft_ // 2 + 1``) or None
        The mel filter bank (``librosa.filters.mel``), for ``kind="mel"``.
    mel_blocks_ : list of (int, int, ndarray) or None
        ``(first bin, last bin + 1, weights)`` of each block of 16 consecutive
        mel bands, in band order: the filter bank is zero outside each band's
        bins, so the mel step multiplies only these blocks, about an eighth of
        the dense product for 128 bands.
    n_features_in_ : int
        Length of the last axis seen in ``fit``.

    Notes
    -----
    Output shape: ``(n_songs, n_intervals, n_bins, n_frames)``, float, never
    NaN or infinite (silence gives the floor). For ``"mel"`` and ``"stft"``,
    ``n_frames = 1 + n_samples // hop_length`` (centred frames, zero padding, as
    librosa); ``n_bins`` is ``n_mels`` or ``n_fft // 2 + 1``. The ``"paper"``
    kind frames without centring, as the seed's R code did.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import SpectrogramTransformer
    >>> clips = np.zeros((2, 3, 66150), dtype="float32")
    >>> SpectrogramTransformer().fit_transform(clips).shape
    (2, 3, 128, 130)
    >>> SpectrogramTransformer(kind="paper").fit_transform(clips).shape
    (2, 3, 160, 160)
    """

    _parameter_constraints: dict = {
        "kind": [StrOptions(set(_KINDS))],
        "sr": [Interval(Integral, 1, None, closed="left")],
        "n_fft": [Interval(Integral, 2, None, closed="left"), None],
        "hop_length": [Interval(Integral, 1, None, closed="left"), None],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "top_db": [Interval(Real, 0, None, closed="left"), None],
        "output_shape": [tuple, list, None],
        "dtype": [StrOptions({"float32", "float16"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "device": [str],
    }

    def __init__(
        self,
        kind: str = "mel",
        sr: int = 22050,
        n_fft: int | None = None,
        hop_length: int | None = None,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        top_db: float | None = 80.0,
        output_shape: tuple[int, int] | None = None,
        dtype: str = "float32",
        batch_size: int = 4,
        n_jobs: int | None = None,
        device: str = "cpu",
    ) -> None:
        self.kind = kind
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.top_db = top_db
        self.output_shape = output_shape
        self.dtype = dtype
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.device = device

    def _check_X(self, X) -> np.ndarray:
        if (isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim in (2, 3)
                and X.size and X.shape[-1] and np.isfinite(X).all()):
            return X  # what check_array would return, without its ~0.4 ms per call
        X = check_array(
            X, dtype=np.float32, allow_nd=True, ensure_min_features=1, input_name="X"
        )
        if X.ndim not in (2, 3):
            raise ValueError(
                "X must be (n_songs, n_intervals, n_samples) or (n_songs, n_samples); "
                f"got shape {X.shape}"
            )
        return X

    def fit(self, X, y=None):
        """Check the parameters and build the filter bank.

        Parameters
        ----------
        X : array-like of shape (n_songs, n_intervals, n_samples) or (n_songs, n_samples)
            Windows of samples at ``sr``.
        y : ignored
            Present for the pipeline.

        Returns
        -------
        self : SpectrogramTransformer
        """
        self._validate_params()
        X = self._check_X(X)
        self.n_features_in_ = X.shape[-1]
        n_fft, hop, shape = _KIND_DEFAULTS[self.kind]
        self.n_fft_ = int(self.n_fft or n_fft)
        self.hop_length_ = int(self.hop_length or hop)
        shape = self.output_shape if self.output_shape is not None else shape
        if shape is not None:
            if len(shape) != 2 or any(int(s) < 1 for s in shape):
                raise ValueError(
                    f"output_shape must be two positive integers (n_bins, n_frames), got {shape!r}"
                )
            shape = (int(shape[0]), int(shape[1]))
        self.output_shape_ = shape
        self.mel_basis_ = None
        if self.kind == "mel":
            import librosa

            fmax = self.fmax if self.fmax is not None else self.sr / 2
            if self.fmin >= fmax:
                raise ValueError(f"fmin ({self.fmin}) must be below fmax ({fmax})")
            self.mel_basis_ = librosa.filters.mel(
                sr=self.sr, n_fft=self.n_fft_, n_mels=self.n_mels, fmin=self.fmin, fmax=fmax
            ).astype(np.float32)
        self.mel_blocks_ = None if self.mel_basis_ is None else _mel_blocks(self.mel_basis_)
        self._check_device()
        return self

    def _check_device(self) -> str:
        """The device to compute on; a clear error for one torch cannot use."""
        device = resolve_device(self.device)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r}, but torch finds no CUDA GPU here; use "
                "device='auto' to take a GPU only where there is one"
            )
        try:
            torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"device={self.device!r} is not a torch device ({exc})") from exc
        return device

    def transform(self, X) -> np.ndarray:
        """Compute the spectrogram of every window.

        Parameters
        ----------
        X : array-like of shape (n_songs, n_intervals, n_samples) or (n_songs, n_samples)
            Windows of samples at ``sr``; 2-D input is one window per song.

        Returns
        -------
        ndarray of shape (n_songs, n_intervals, n_bins, n_frames)
            Of type ``dtype``; finite everywhere.
        """
        check_is_fitted(self, "n_fft_")
        X = self._check_X(X)
        device = self._check_device()
        if X.ndim == 2:
            X = X[:, None, :]
        n, k, n_samples = X.shape
        clips = X.reshape(n * k, n_samples)
        # a window costs more to send to another process than its spectrogram costs
        # to compute, so jobs stay in threads here whatever the backend (torch
        # releases the GIL)
        threads = local_threads(self.n_jobs) if n * k > 1 else 1  # one clip: no job plan
        chunks = chunk_slices(n * k, threads, per_worker=1, split_serial=False) \
            if threads > 1 else [slice(0, n * k)]
        if len(chunks) > 1:
            out = np.concatenate(Parallel(n_jobs=threads, require="sharedmem")(
                delayed(self._chunk)(clips[c], device) for c in chunks
            ), axis=0)
        else:
            out = self._chunk(clips, device)
        return out.reshape(n, k, *out.shape[1:])

    def _chunk(self, clips: np.ndarray, device: str = "cpu") -> np.ndarray:
        """Spectrograms of a chunk of clips, ``batch_size`` clips per torch call: one job."""
        parts = [self._batch(clips[s:s + self.batch_size], device)
                 for s in range(0, len(clips), self.batch_size)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)  # no copy of one

    def _mel(self, power: torch.Tensor) -> torch.Tensor:
        """The mel filter bank applied to ``(batch, bins, frames)``, block by block."""
        blocks = getattr(self, "mel_blocks_", None)  # absent from models saved before it
        if blocks is None:
            return torch.matmul(torch.from_numpy(self.mel_basis_).to(power.device), power)
        return torch.cat([
            torch.matmul(torch.from_numpy(weights).to(power.device), power[:, f0:f1])
            for f0, f1, weights in blocks
        ], dim=1)

    def _batch(self, clips: np.ndarray, device: str = "cpu") -> np.ndarray:
        """Spectrograms of a 2-D batch of clips, as ``dtype``."""
        # a caller's autocast would turn the filter bank product into bfloat16
        with torch.no_grad(), torch.autocast(torch.device(device).type, enabled=False):
            x = torch.from_numpy(np.ascontiguousarray(clips)).to(device)
            power = self._power(x)
            if self.kind == "paper":
                spec = _paper_image(power)
            else:
                if self.kind == "mel":
                    power = self._mel(power)
                spec = _power_to_db(power, self.top_db)
            if self.output_shape_ is not None and tuple(spec.shape[-2:]) != self.output_shape_:
                spec = torch.nn.functional.interpolate(
                    spec[:, None], size=self.output_shape_, mode="bilinear",
                    antialias=True, align_corners=False,
                )[:, 0]
            return spec.cpu().numpy().astype(self.dtype, copy=False)

    def _power(self, x: torch.Tensor) -> torch.Tensor:
        """Squared STFT magnitude, (batch, n_fft // 2 + 1, frames)."""
        n_fft, hop = self.n_fft_, self.hop_length_
        center = self.kind != "paper"
        if self.kind == "stft":
            # every linear bin is kept, down to 80 dB below the peak, where a float32
            # FFT drifts by ~1e-3 dB; the mel sum averages that away
            x = x.double()
        if not center and x.shape[-1] < n_fft:
            x = torch.nn.functional.pad(x, (0, n_fft - x.shape[-1]))
        window = _hann(n_fft, x.dtype, x.device)
        stft = torch.stft(
            x, n_fft=n_fft, hop_length=hop, win_length=n_fft, window=window,
            center=center, pad_mode="constant", return_complex=True,
        )
        return (stft.real.square() + stft.imag.square()).float()

    def frequencies(self) -> np.ndarray:
        """Centre frequency in Hz of each output bin before any resizing.

        Returns
        -------
        ndarray of float
            ``n_mels`` mel band centres, or ``n_fft // 2 + 1`` FFT bin frequencies.
        """
        import librosa

        check_is_fitted(self, "n_fft_")
        if self.kind == "mel":
            fmax = self.fmax if self.fmax is not None else self.sr / 2
            return librosa.mel_frequencies(n_mels=self.n_mels, fmin=self.fmin, fmax=fmax)
        return librosa.fft_frequencies(sr=self.sr, n_fft=self.n_fft_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
