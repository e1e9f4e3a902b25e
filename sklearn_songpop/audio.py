"""Reading songs: what a file holds, and whole files or only the windows asked for.

The decoders themselves (``soundfile`` for WAV, FLAC, OGG/Vorbis, MP3 and
AIFF; PyAV, the FFmpeg binding, for M4A/AAC and the rest) live in
``sklearn_songpop._decoders``; this module picks one, checks what it
read, mixes down and resamples.

This module knows nothing of scikit-learn or torch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Union

import numpy as np

from sklearn_songpop._decoders import (
    AudioError,
    AudioInfo,
    as_float_waveform,
    check_file,
    display_path,
    mix_down,
    probe_pyav,
    probe_soundfile,
    read_pyav,
    read_soundfile,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioError",
    "AudioInfo",
    "as_float_waveform",
    "audio_duration",
    "check_audio",
    "load_audio",
    "load_windows",
    "probe_audio",
    "probe_files",
    "resample",
]

PathLike = Union[str, bytes, os.PathLike]

#: File name extensions that :func:`sklearn_songpop.datasets.find_audio` treats as audio.
AUDIO_EXTENSIONS = (
    ".mp3", ".m4a", ".mp4", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".aif",
    ".aiff",
)


def probe_audio(path: PathLike) -> AudioInfo:
    """Read a file's format, duration, rate and channel count from its header.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The audio file.

    Returns
    -------
    AudioInfo
        What the container says; nothing is decoded.

    Raises
    ------
    AudioError
        When the file is missing, a directory, empty, not audio, or has no
        audio frames.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(path, np.zeros(22050, dtype="float32"), 22050)
    >>> info = probe_audio(path)
    >>> info.duration, info.sr, info.channels
    (1.0, 22050, 1)
    """
    name = check_file(path)
    info = probe_soundfile(name) or probe_pyav(name)
    if info.sr <= 0:
        raise AudioError.for_file(name, "unknown sampling rate")
    if not info.duration > 0:
        raise AudioError.for_file(name, "contains no audio frames")
    return info


def probe_files(paths: Sequence[PathLike]) -> list[AudioInfo]:
    """Probe every file, and report all the bad ones at once.

    Parameters
    ----------
    paths : sequence of str, bytes or os.PathLike
        The audio files.

    Returns
    -------
    list of AudioInfo
        One per path, in order.

    Raises
    ------
    AudioError
        Listing every bad file with its reason, after all were probed.

    Examples
    --------
    >>> try:
    ...     probe_files(["no_such_song.mp3", "nor_this_one.m4a"])
    ... except AudioError as err:
    ...     print(err)
    2 audio file(s) could not be read:
      no_such_song.mp3: file not found
      nor_this_one.m4a: file not found
    """
    infos, problems = [], {}
    for path in paths:
        try:
            infos.append(probe_audio(path))
        except AudioError as exc:
            problems.update(exc.problems or {display_path(path): str(exc)})
    if problems:
        raise AudioError.for_files(problems)
    return infos


def check_audio(path: PathLike) -> AudioInfo:
    """Probe a file and decode its last second, to catch files cut short.

    :func:`probe_audio` trusts the header; a file truncated after its header
    was written still probes well. Reading the end shows the cut.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The audio file.

    Returns
    -------
    AudioInfo
        As :func:`probe_audio`.

    Raises
    ------
    AudioError
        As :func:`probe_audio`, and "corrupt or truncated" when the end of the
        stream cannot be decoded.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "cut.flac")
    >>> sf.write(path, np.random.default_rng(0).uniform(-1, 1, 44100), 22050)
    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(os.path.getsize(path) // 2)
    >>> try:
    ...     check_audio(path)
    ... except AudioError as err:
    ...     "truncated" in str(err)
    True
    """
    info = probe_audio(path)
    tail = min(1.0, info.duration)
    window = load_windows(path, [max(0.0, info.duration - tail)], tail, sr=None)[0]
    expected = int(tail * info.sr)
    if window.shape[-1] < 0.9 * expected:
        raise AudioError.for_file(
            info.path, f"corrupt or truncated: the last {tail:g} s cannot be decoded"
        )
    return info


def audio_duration(path: PathLike) -> float:
    """Length of an audio file in seconds, read from its container.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The audio file.

    Returns
    -------
    float
        Duration in seconds.

    Raises
    ------
    AudioError
        As :func:`probe_audio`.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "two_seconds.flac")
    >>> sf.write(path, np.zeros(2 * 8000, dtype="float32"), 8000)
    >>> audio_duration(path)
    2.0
    """
    return probe_audio(path).duration


def resample(data: np.ndarray, native_sr: int, sr: int) -> np.ndarray:
    """A waveform, or each row of ``(rows, samples)``, from ``native_sr`` to ``sr``.

    soxr's high quality; rows go through in one call, as the channels of one signal.

    Parameters
    ----------
    data : ndarray of shape (samples,) or (rows, samples)
    native_sr, sr : int
        The rate of ``data``, and the rate wanted.

    Returns
    -------
    ndarray
        ``data`` itself when the rates are equal or it holds no sample.

    Examples
    --------
    >>> resample(np.zeros((2, 22050), np.float32), 22050, 16000).shape
    (2, 16000)
    """
    if sr == native_sr or data.shape[-1] == 0:
        return data
    import soxr

    if data.ndim == 1:
        return soxr.resample(data, native_sr, sr, quality="HQ")
    return soxr.resample(np.ascontiguousarray(data.T), native_sr, sr, quality="HQ").T


def _finish(data: np.ndarray, native_sr: int, sr: int | None, mono: bool) -> np.ndarray:
    """Mix down, resample, and return C-contiguous float32."""
    if mono:
        data = mix_down(data)
    if sr is not None:
        data = resample(data, native_sr, sr)
    return np.ascontiguousarray(data, dtype=np.float32)


def load_windows(
    path: PathLike,
    offsets: Sequence[float],
    duration: float | None,
    sr: int | None = 22050,
    mono: bool = True,
) -> list[np.ndarray]:
    """Decode several windows of one file, opening it once.

    Only the requested windows are decoded: libsndfile seeks to the first
    sample; PyAV seeks to the packet before it and the surplus is trimmed.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The audio file.
    offsets : sequence of float
        Start of each window, in seconds.
    duration : float or None
        Length of every window in seconds; None reads to the end.
    sr : int or None, default=22050
        Target sampling rate; None keeps the file's own.
    mono : bool, default=True
        Mix all channels down to one.

    Returns
    -------
    list of ndarray
        One float32 array per window, ``(samples,)`` when ``mono`` else
        ``(channels, samples)``. A window that runs past the end of the file is
        shorter than asked; the caller decides how to pad.

    Raises
    ------
    AudioError
        Naming the file and what is wrong with it.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ramp.wav")
    >>> sf.write(path, np.linspace(-1, 1, 8000, dtype="float32"), 8000)
    >>> [w.shape for w in load_windows(path, [0.0, 0.5], 0.25, sr=8000)]
    [(2000,), (2000,)]
    """
    name = check_file(path)
    windows = [(max(0.0, float(o)), duration) for o in offsets]
    result = read_soundfile(name, windows, mono)
    if result is None:
        result = read_pyav(name, windows)
    data, native_sr = result
    if windows and all(d.shape[-1] == 0 for d in data) and windows[0][0] == 0:
        raise AudioError.for_file(name, "contains no audio frames")
    return [_finish(d, native_sr, sr, mono) for d in data]


def load_audio(
    source: PathLike | np.ndarray,
    sr: int | None = 22050,
    offset: float = 0.0,
    duration: float | None = None,
    mono: bool = True,
) -> np.ndarray:
    """Load a file, or a window of it, as float32 samples.

    Parameters
    ----------
    source : str, bytes, os.PathLike or ndarray
        A path to an audio file, or samples already at ``sr``: a 1-D array, or
        2-D ``(channels, samples)``. Arrays are passed through (cut to the
        window, mixed down, cast to float32, integer PCM scaled to [-1, 1))
        without resampling.
    sr : int or None, default=22050
        Target sampling rate in Hz; None keeps the file's own rate.
    offset : float, default=0.0
        Start of the window in seconds.
    duration : float or None, default=None
        Length of the window in seconds; None reads to the end.
    mono : bool, default=True
        Mix all channels down to one.

    Returns
    -------
    ndarray of float32
        ``(samples,)`` when ``mono``, else ``(channels, samples)``.

    Raises
    ------
    AudioError
        When a file is missing, a directory, empty, not audio, corrupt or
        truncated, or its codec is not supported; also for arrays holding NaN
        or infinity.

    See Also
    --------
    load_windows : several windows of one file in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> load_audio(np.ones((2, 4)), offset=0.0).shape
    (4,)
    >>> load_audio(np.array([0, 16384], dtype=np.int16))
    array([0. , 0.5], dtype=float32)
    """
    if offset < 0:
        raise ValueError(f"offset must be >= 0 seconds, got {offset}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be > 0 seconds or None, got {duration}")
    if isinstance(source, (str, bytes, os.PathLike)):
        return load_windows(source, [offset], duration, sr=sr, mono=mono)[0]
    return _array_window(source, sr, offset, duration, mono)


def _array_window(source, sr, offset, duration, mono) -> np.ndarray:
    arr = np.asarray(source)
    if arr.dtype.kind not in "fiu":
        raise AudioError(f"waveform arrays must be numeric, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise AudioError(f"a waveform must be 1-D or 2-D (channels, samples), got {arr.ndim}-D")
    arr = as_float_waveform(arr)
    if not np.all(np.isfinite(arr)):
        raise AudioError("waveform contains NaN or infinity")
    rate = sr or 1
    start = int(round(offset * rate))
    stop = None if duration is None else start + int(round(duration * rate))
    arr = arr[..., start:stop]
    if mono and arr.ndim == 2:
        arr = mix_down(arr)
    return np.ascontiguousarray(arr, dtype=np.float32)
