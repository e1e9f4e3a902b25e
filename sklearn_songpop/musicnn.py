"""MusicnnEmbedding: what musicnn's million-song tagger hears in each song, as features.

A frozen pipeline step: songs in, one row per song out. Each clip (an
interval from :class:`~sklearn_songpop.IntervalSampler`, or a whole song) is
resampled to 16 kHz, cut into musicnn's 3-second patches, and run through
:class:`~sklearn_songpop.musicnn_net.MusicnnNet` with the ``MSD_musicnn``
weights that ship with the package. The rows are an embedding layer's mean
and maximum over a song's patches, or the mean probability of each of the 50
tags. Nothing is learned from the user's songs, so it can sit in front of any
scikit-learn model and be cross-validated without leaking.
"""

from __future__ import annotations

import os
from functools import lru_cache
from numbers import Integral

import numpy as np
import torch
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from sklearn_songpop._device import resolve_device
from sklearn_songpop._progress import progress
from sklearn_songpop.audio import as_float_waveform, load_audio, resample
from sklearn_songpop.musicnn_net import (
    HOP,
    LAYERS,
    MSD_TAGS,
    PATCH_FRAMES,
    SR,
    load_musicnn,
    musicnn_melspectrogram,
)

__all__ = ["MusicnnEmbedding"]

#: Samples of 16-kHz audio that make one patch of 187 frames.
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP


@lru_cache(maxsize=4)
def _network(device: str):
    return load_musicnn().to(device)


class MusicnnEmbedding(TransformerMixin, BaseEstimator):
    """Song features from musicnn's ``MSD_musicnn`` tagger, frozen.

    Parameters
    ----------
    output : {"embedding", "tags"}, default="embedding"
        ``"embedding"``: the mean and the maximum of ``layer`` over a song's
        patches (all its intervals together), ``2 * 753`` values (``2 * 200``
        for ``"penultimate"``). ``"tags"``: the mean
        probability of each of the 50 Million Song Dataset tags.
    layer : {"mean_pool", "max_pool", "penultimate"}, default="mean_pool"
        The embedding: the mean (or the maximum) over time of the 753
        channels of musicnn's front and mid ends, which its own back end
        reads, or the 200-unit layer before the tags. The pooled channels
        describe the sound more generally than the layer trained for the 50
        tags; on our measurements ``"mean_pool"`` was the best or near it on
        generated songs and on real recordings, ``"max_pool"`` best on the
        real ones alone and ``"penultimate"`` the weakest (see the user guide).
    sr : int, default=16000
        Sampling rate of waveform input (an :class:`IntervalSampler`'s
        ``sr``); it is resampled to musicnn's 16 kHz. Paths are decoded at 16 kHz.
    short : {"error", "repeat"}, default="error"
        A clip shorter than one patch (2.98 s at 16 kHz): an error, or
        repeated until it fills one, as musicnn's own training padded short
        audio (``"pad_short": "repeat-pad"`` in its configuration).
    batch_size : int, default=32
        Patches per forward pass.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    n_jobs : int or None, default=None
        Threads that decode paths.
    verbose : int, default=0
        A progress bar over the batches when > 0.

    Attributes
    ----------
    tags_ : ndarray of str
        The 50 tags, in the order of ``output="tags"``'s columns.
    n_features_out_ : int

    See Also
    --------
    sklearn_songpop.make_songpop_pipeline : ``"musicnn"`` puts it before a linear model.

    Notes
    -----
    The weights are Pons and Serra's (ISC licence), converted from the
    ``musicnn`` 0.1.0 wheel and checked equal to the original graph (see the
    user guide). They were learned from listeners' tags of the Million Song
    Dataset's previews: genres, decades, moods, "catchy".

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(48_000) / 16_000
    >>> X = np.stack([0.1 * np.sin(2 * np.pi * f * t) for f in (220, 440)]).astype("float32")
    >>> emb = MusicnnEmbedding().fit(X)
    >>> emb.transform(X).shape  # the mean and the max over patches of 753 channels
    (2, 1506)
    >>> tags = MusicnnEmbedding(output="tags").fit(X)
    >>> tags.transform(X).shape, tags.get_feature_names_out()[:3].tolist()
    ((2, 50), ['rock', 'pop', 'alternative'])
    """

    _parameter_constraints: dict = {
        "output": [StrOptions({"embedding", "tags"})],
        "layer": [StrOptions(set(LAYERS))],
        "sr": [Interval(Integral, 1, None, closed="left")],
        "short": [StrOptions({"error", "repeat"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
    }

    def __init__(self, output: str = "embedding", layer: str = "mean_pool", sr: int = SR,
                 short: str = "error", batch_size: int = 32, device: str = "cpu",
                 n_jobs: int | None = None, verbose: int = 0) -> None:
        self.output = output
        self.layer = layer
        self.sr = sr
        self.short = short
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ input
    def _checked(self, X):
        """A float32 array ``(n_songs, samples)`` or ``(n_songs, k, samples)``, or a list
        of paths or 1-D float32 waveforms."""
        if isinstance(X, (str, bytes, os.PathLike)):
            raise TypeError("X must be a sequence of songs, not a single path; wrap it in a "
                            "list: [path]")
        if issparse(X):
            raise TypeError("MusicnnEmbedding takes dense waveforms or paths, not sparse data")
        if not isinstance(X, (list, tuple)) and hasattr(X, "__array__"):
            arr = np.asarray(X)
            if arr.ndim in (2, 3):
                flat = check_array(arr.reshape(len(arr), -1) if arr.ndim == 3 else arr,
                                   dtype=None if arr.dtype.kind in "iu" else np.float32,
                                   input_name="X")
                return as_float_waveform(flat).reshape(arr.shape)
            if arr.ndim != 1 or arr.dtype.kind in "fiubc":
                raise ValueError(
                    "a numeric X must be (n_songs, samples) waveforms or the intervals "
                    f"(n_songs, k, samples) of an IntervalSampler; got shape {arr.shape}. "
                    "Reshape your data, e.g. X.reshape(1, -1) for one song")
            X = arr.tolist()
        songs = list(X)
        if not songs:
            raise ValueError("X holds no songs (0 samples); at least 1 is required")
        paths = [isinstance(s, (str, bytes, os.PathLike)) for s in songs]
        if all(paths):
            return songs
        if any(paths):
            raise TypeError("X mixes paths and waveform arrays; give one kind of song per call")
        out = []
        for i, song in enumerate(songs):
            wave = np.asarray(song)
            if wave.ndim != 1 or wave.dtype.kind not in "fiu" or wave.size == 0:
                raise ValueError(f"X[{i}]: a waveform must be a non-empty 1-D numeric array, "
                                 f"got dtype {wave.dtype}, shape {wave.shape}")
            wave = as_float_waveform(wave)
            if not np.isfinite(wave).all():
                raise ValueError(f"X[{i}]: the waveform contains NaN or infinity")
            out.append(wave)
        return out

    def _clips(self, X) -> list[np.ndarray]:
        """Each song as ``(n_clips, samples)`` float32 at 16 kHz."""
        songs = self._checked(X)
        if isinstance(songs, np.ndarray):
            return list(self._resampled(songs[:, None] if songs.ndim == 2 else songs))
        if isinstance(songs[0], np.ndarray):
            return [self._resampled(wave[None]) for wave in songs]
        from joblib import Parallel, delayed

        decoded = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(load_audio)(p, sr=SR) for p in songs)
        return [d[None] for d in decoded]

    def _resampled(self, waves: np.ndarray) -> np.ndarray:
        """``(..., samples)`` at ``sr`` to 16 kHz."""
        rows = resample(waves.reshape(-1, waves.shape[-1]), int(self.sr), SR)
        return np.ascontiguousarray(rows, dtype=np.float32).reshape(*waves.shape[:-1], -1)

    def _patches(self, clips: np.ndarray, song: int) -> torch.Tensor:
        """musicnn's non-overlapping patches of a song's clips, ``(n_patches, 187, 96)``."""
        n = clips.shape[-1]
        if n < PATCH_SAMPLES:
            if self.short == "error":
                raise ValueError(
                    f"X[{song}]: a clip of {n / SR:.2f} s at 16 kHz is shorter than one "
                    f"musicnn patch ({PATCH_SAMPLES / SR:.2f} s); sample longer intervals "
                    "(IntervalSampler(duration=3, sr=16000)) or pass short='repeat'")
            clips = np.tile(clips, (1, -(-PATCH_SAMPLES // n)))[:, :PATCH_SAMPLES]
        mel = musicnn_melspectrogram(torch.from_numpy(np.ascontiguousarray(clips)))
        per_clip = mel.shape[1] // PATCH_FRAMES
        mel = mel[:, :per_clip * PATCH_FRAMES]
        return mel.reshape(-1, PATCH_FRAMES, mel.shape[-1])

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Check the parameters and the songs; nothing is learned.

        Parameters
        ----------
        X : array-like or sequence
            ``(n_songs, k, samples)`` intervals or ``(n_songs, samples)``
            waveforms at ``sr``, or a sequence of paths or of 1-D waveforms.
        y : ignored

        Returns
        -------
        self : MusicnnEmbedding
        """
        self._validate_params()
        songs = self._checked(X)
        if isinstance(songs, np.ndarray) and songs.ndim == 2:
            self.n_features_in_ = songs.shape[1]
        self.tags_ = np.array(MSD_TAGS)
        width = LAYERS[self.layer]
        self.n_features_out_ = len(MSD_TAGS) if self.output == "tags" else 2 * width
        return self

    def transform(self, X) -> np.ndarray:
        """One row per song.

        Parameters
        ----------
        X : array-like or sequence
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_songs, ``n_features_out_``), float32
        """
        check_is_fitted(self)
        songs = self._clips(X)
        patches = [self._patches(clips, i) for i, clips in enumerate(songs)]
        counts = [len(p) for p in patches]
        outputs = self._outputs(torch.cat(patches))
        rows, start = [], 0
        for n in counts:
            part = outputs[start:start + n]
            start += n
            rows.append(part.mean(axis=0) if self.output == "tags"
                        else np.concatenate([part.mean(axis=0), part.max(axis=0)]))
        return np.stack(rows).astype(np.float32)

    def _outputs(self, patches: torch.Tensor) -> np.ndarray:
        """Each patch's tag probabilities, or its ``layer``, in batches."""
        device = resolve_device(self.device)
        net = _network(device)
        size = int(self.batch_size)
        batches = range(0, len(patches), size)
        out = []
        with torch.inference_mode():
            for start in progress(batches, len(batches), self.verbose, "musicnn"):
                x = patches[start:start + size].to(device)
                y = torch.sigmoid(net(x)) if self.output == "tags" else net.features(x)[self.layer]
                out.append(y.float().cpu().numpy())
        return np.concatenate(out)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The tags, or ``<layer>_mean<i>`` then ``<layer>_max<i>``.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        if self.output == "tags":
            return self.tags_.astype(object)
        width = LAYERS[self.layer]
        return np.array([f"{self.layer}_{stat}{i}" for stat in ("mean", "max")
                         for i in range(width)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags
