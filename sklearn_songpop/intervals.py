"""IntervalSampler: the first step of the pipeline, songs to fixed-length windows.

A row is a song from the first step to the last: the ``k`` windows of a song
live on an axis inside its row, so every splitter splits whole songs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from sklearn_songpop._parallel import chunk_slices
from sklearn_songpop._progress import progress
from sklearn_songpop.audio import AudioError, as_float_waveform, load_windows, probe_files

__all__ = ["IntervalSampler", "window_starts"]

_STRATEGIES = ("thirds", "even", "random")
_SHORT_POLICIES = ("pad", "loop", "error")


def window_starts(
    length: float,
    n_intervals: int,
    duration: float,
    strategy: str,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Start times of the windows for one song.

    Parameters
    ----------
    length : float
        Length of the song, in seconds (or in samples: any unit, used consistently).
    n_intervals : int
        How many windows.
    duration : float
        Length of each window, in the unit of ``length``.
    strategy : {"thirds", "even", "random"}
        ``"thirds"``: the song is cut into ``n_intervals`` equal sections and
        each window starts at a uniform random point of its section, moved back
        where needed so that it ends inside the song (the seed paper's method,
        with three sections). ``"even"``: each window is centred in its section,
        no randomness. ``"random"``: independent uniform starts over the whole
        song, sorted.
    rng : numpy.random.Generator, optional
        Source of randomness for ``"thirds"`` and ``"random"``.

    Returns
    -------
    ndarray of float64, shape (n_intervals,)
        Window starts, each in ``[0, max(0, length - duration)]``.

    Examples
    --------
    >>> window_starts(30.0, 3, 3.0, "even")
    array([ 3.5, 13.5, 23.5])
    """
    last = max(0.0, length - duration)
    section = length / n_intervals
    if strategy == "even":
        starts = (np.arange(n_intervals) + 0.5) * section - duration / 2
    else:
        if rng is None:
            raise ValueError(f"strategy={strategy!r} needs a random generator")
        if strategy == "thirds":
            lo = np.arange(n_intervals) * section
            hi = np.minimum(lo + section, last)
            starts = lo + rng.random(n_intervals) * np.maximum(hi - lo, 0.0)
        elif strategy == "random":
            starts = np.sort(rng.random(n_intervals) * last)
        else:
            raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")
    return np.clip(starts, 0.0, last)


def _song_key(song) -> bytes:
    """What identifies a song for seeding: its file name and size, or its samples."""
    if isinstance(song, (str, bytes, os.PathLike)):
        name = os.fsdecode(song)
        size = os.path.getsize(name) if os.path.isfile(name) else -1
        return f"{os.path.basename(name)}\0{size}".encode("utf-8", "surrogateescape")
    return np.ascontiguousarray(song, dtype=np.float32).tobytes()


def _song_rng(base_seed: int, song) -> np.random.Generator:
    digest = hashlib.blake2b(_song_key(song), digest_size=8).digest()
    return np.random.default_rng([base_seed, int.from_bytes(digest, "little")])


def _fit_length(window: np.ndarray, n: int, short: str) -> np.ndarray:
    """Cut a window to ``n`` samples, or fill a short one by ``short`` ("pad" or "loop")."""
    if window.shape[0] >= n:
        return window[:n]
    if window.shape[0] == 0 or short == "pad":
        return np.pad(window, (0, n - window.shape[0]))
    return np.resize(window, n)


def _windows_from_array(wave, starts, n, sr, short):
    out = np.empty((len(starts), n), dtype=np.float32)
    for i, s in enumerate(starts):
        a = int(round(s * sr))
        out[i] = _fit_length(wave[a:a + n], n, short)
    return out


def _windows_from_file(path, starts, n, sr, duration, short):
    windows = load_windows(path, starts, duration, sr=sr)
    return np.stack([_fit_length(w, n, short) for w in windows])


def _windows_of_songs(songs, starts, policies, n, sr, duration) -> np.ndarray:
    """The windows of a chunk of songs, ``(len(songs), n_intervals, n)``: one joblib job."""
    return np.stack([
        _windows_from_array(song, s, n, sr, short)
        if isinstance(song, np.ndarray)
        else _windows_from_file(song, s, n, sr, duration, short)
        for song, s, short in zip(songs, starts, policies)
    ])


class IntervalSampler(TransformerMixin, BaseEstimator):
    """Cut each song into ``n_intervals`` windows of ``duration`` seconds.

    Only the windows are decoded from files. Which windows a song gets depends
    on ``random_state`` and on the song (its file name and size, or its
    samples), never on the other songs in the batch or on its position: one
    song transformed alone gives the same rows as inside a batch of 1,000.

    Parameters
    ----------
    n_intervals : int, default=3
        Windows per song.
    duration : float, default=3.0
        Length of a window in seconds.
    sr : int, default=22050
        Sampling rate of the output; files are resampled to it, and arrays are
        taken to be at it already.
    strategy : {"thirds", "even", "random"}, default="thirds"
        Where the windows start; see :func:`window_starts`. ``"thirds"`` is
        the seed paper's method.
    short : {"pad", "loop", "error"}, default="pad"
        What to do with a song shorter than one window: ``"pad"`` appends
        silence (the network then sees the song and a quiet tail, nothing
        made up), ``"loop"`` repeats the song, ``"error"`` raises an
        :class:`~sklearn_songpop.audio.AudioError` naming it. Songs long enough
        for one window but not for ``n_intervals`` disjoint ones get
        overlapping windows under every policy.
    random_state : int, RandomState instance or None, default=None
        Seeds the window starts of the random strategies.
    n_jobs : int or None, default=None
        Songs decoded in parallel through joblib; None means 1 unless inside a
        :func:`joblib.parallel_config` context, which also chooses the backend
        (a Dask cluster, for example).
    verbose : int, default=0
        Show a progress bar over songs when > 0.

    Attributes
    ----------
    n_samples_ : int
        Samples per window, ``round(duration * sr)``.
    n_features_in_ : int
        Samples per waveform, when ``fit`` was given a 2-D array.

    See Also
    --------
    SpectrogramTransformer : the next step, windows to spectrograms.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import IntervalSampler
    >>> songs = np.random.default_rng(0).standard_normal((4, 22050 * 12)).astype("float32")
    >>> X = IntervalSampler(random_state=0).fit_transform(songs)
    >>> X.shape, X.dtype
    ((4, 3, 66150), dtype('float32'))
    """

    _parameter_constraints: dict = {
        "n_intervals": [Interval(Integral, 1, None, closed="left")],
        "duration": [Interval(Real, 0, None, closed="neither")],
        "sr": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions(set(_STRATEGIES))],
        "short": [StrOptions(set(_SHORT_POLICIES))],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_intervals: int = 3,
        duration: float = 3.0,
        sr: int = 22050,
        strategy: str = "thirds",
        short: str = "pad",
        random_state=None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.n_intervals = n_intervals
        self.duration = duration
        self.sr = sr
        self.strategy = strategy
        self.short = short
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ input
    def _as_songs(self, X) -> list | np.ndarray:
        """X as a list of paths or 1-D float32 arrays, or a checked 2-D float32 array."""
        if isinstance(X, (str, bytes, os.PathLike)):
            raise TypeError(
                "X must be a sequence of songs, not a single path; wrap it in a list: [path]"
            )
        if issparse(X):
            raise TypeError("IntervalSampler takes dense waveforms or paths, not sparse data")
        if not isinstance(X, Sequence) and hasattr(X, "__array__"):
            X = np.asarray(X)
        if isinstance(X, np.ndarray) and X.dtype.kind in "fiubc":
            if X.ndim != 2:
                raise ValueError(
                    "a numeric X must be 2-D (n_songs, n_samples) waveforms, got shape "
                    f"{X.shape}. Reshape your data, e.g. X.reshape(1, -1) for one song"
                )
            if X.dtype.kind in "iu":
                X = as_float_waveform(X)
            return check_array(X, dtype=np.float32, input_name="X")
        elif isinstance(X, Sequence) or (isinstance(X, np.ndarray) and X.ndim == 1):
            songs = list(X)
        elif hasattr(X, "tolist"):  # a pandas Series or the like
            songs = list(X.tolist())
        else:
            raise TypeError(
                "X must be a sequence of paths or of 1-D waveforms, or a 2-D array of "
                f"waveforms; got {type(X).__name__}"
            )
        if len(songs) == 0:
            raise ValueError("X holds no songs (0 samples); at least 1 is required")
        out, kinds, problems = [], set(), {}
        for i, song in enumerate(songs):
            if isinstance(song, (str, bytes, os.PathLike)):
                kinds.add("path")
                out.append(song)
                continue
            kinds.add("array")
            arr = np.asarray(song)
            if arr.dtype.kind not in "fiu" or arr.ndim != 1:
                problems[f"X[{i}]"] = (
                    f"a waveform must be a 1-D numeric array, got dtype {arr.dtype}, "
                    f"shape {arr.shape}"
                )
                continue
            arr = as_float_waveform(arr)
            if arr.size == 0:
                problems[f"X[{i}]"] = "empty waveform (0 samples)"
            elif not np.all(np.isfinite(arr)):
                problems[f"X[{i}]"] = "waveform contains NaN or infinity"
            out.append(arr)
        if len(kinds) > 1:
            raise TypeError("X mixes paths and waveform arrays; give one kind of song per call")
        if problems:
            raise AudioError.for_files(problems)
        return out

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Check the parameters and the input; nothing is learned.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D arrays, or 2-D array
            Songs: audio files, or waveforms at ``sr`` (floats, or integer PCM,
        which is scaled to [-1, 1)).
        y : ignored
            Present for the pipeline.

        Returns
        -------
        self : IntervalSampler
        """
        self._validate_params()
        songs = self._as_songs(X)
        if isinstance(songs, np.ndarray):
            self.n_features_in_ = songs.shape[1]
        self.n_samples_ = int(round(self.duration * self.sr))
        return self

    def transform(self, X) -> np.ndarray:
        """Decode the windows of every song.

        Every file is probed first; when any is bad, one
        :class:`~sklearn_songpop.audio.AudioError` lists all of them before any
        decoding starts.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D arrays, or 2-D array
            Songs: audio files, or waveforms at ``sr``.

        Returns
        -------
        ndarray of float32, shape (n_songs, n_intervals, ``n_samples_``)
        """
        check_is_fitted(self, "n_samples_")
        songs = self._as_songs(X)
        n = int(round(self.duration * self.sr))  # the parameters in force, as the starts
        starts, policies = self._plan(songs)
        chunks = chunk_slices(len(songs), effective_n_jobs(self.n_jobs))
        jobs = (
            delayed(_windows_of_songs)(songs[c], starts[c], policies[c], n, self.sr,
                                       self.duration)
            for c in chunks
        )
        parallel = Parallel(n_jobs=self.n_jobs, return_as="generator")
        out = np.empty((len(songs), self.n_intervals, n), dtype=np.float32)
        bar = progress(zip(chunks, parallel(jobs)), total=len(chunks), verbose=self.verbose,
                       desc="intervals")
        for c, windows in bar:
            out[c] = windows
        return out

    def interval_starts(self, X) -> np.ndarray:
        """Where each song's windows start, in seconds: the windows :meth:`transform` cuts.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D arrays, or 2-D array
            Songs, as for :meth:`transform`; files are probed, not decoded.

        Returns
        -------
        ndarray of float64, shape (n_songs, n_intervals)

        Examples
        --------
        >>> import numpy as np
        >>> songs = np.zeros((1, 22050 * 30), dtype="float32")
        >>> IntervalSampler(strategy="even").fit(songs).interval_starts(songs).round(1)
        array([[ 3.5, 13.5, 23.5]])
        """
        check_is_fitted(self, "n_samples_")
        return np.asarray(self._plan(self._as_songs(X))[0], dtype=np.float64)

    def _plan(self, songs) -> tuple[list[np.ndarray], list[str]]:
        """Each song's window starts (s) and short-song policy; every file is probed first."""
        n = int(round(self.duration * self.sr))
        lengths = self._song_lengths(songs)
        base_seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        starts, policies = [], []
        for song, length in zip(songs, lengths):
            rng = None if self.strategy == "even" else _song_rng(base_seed, song)
            too_short = length * self.sr < n
            if too_short and self.short == "error":
                name = os.fsdecode(song) if not isinstance(song, np.ndarray) else "a waveform"
                raise AudioError(
                    f"{name}: too short for an interval ({length:.3f} s, {self.duration} s "
                    "needed); pass short='pad' or short='loop' to accept short songs"
                )
            # the policy is for songs shorter than a window; a window of a longer song
            # that comes back a few samples short (rounding, resampling) is padded
            policies.append(self.short if too_short else "pad")
            starts.append(
                window_starts(length, self.n_intervals, self.duration, self.strategy, rng)
            )
        return starts, policies

    def _song_lengths(self, songs) -> list[float]:
        """Lengths in seconds; every file is probed and all bad ones reported at once."""
        if isinstance(songs, np.ndarray) or (songs and isinstance(songs[0], np.ndarray)):
            return [song.shape[0] / self.sr for song in songs]
        return [info.duration for info in probe_files(songs)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
