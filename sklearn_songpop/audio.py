"""Decoding audio: whole files, or only the windows that are asked for.

Two decoders are used. ``soundfile`` (libsndfile) opens WAV, FLAC, OGG/Vorbis,
MP3 and AIFF and seeks to a sample directly. Everything else (M4A/AAC, MP4,
Opus, ...) goes through PyAV, the FFmpeg binding, which seeks to a packet
before the target; the decoded frames are then trimmed by their time stamps so
that a window holds the same samples as the same slice of a full decode.

This module knows nothing of scikit-learn or torch.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

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
]

PathLike = Union[str, bytes, os.PathLike]

#: File name extensions that :func:`sklearn_songpop.datasets.find_audio` treats as audio.
AUDIO_EXTENSIONS = (
    ".mp3", ".m4a", ".mp4", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".aif",
    ".aiff",
)


class AudioError(ValueError):
    """An audio file could not be read.

    The message names the file and says what is wrong with it. When several
    files are bad at once, :attr:`problems` maps each path to its reason.

    Parameters
    ----------
    message : str
        The whole message.
    problems : dict of str to str, optional
        One entry per bad file: path to reason.

    Examples
    --------
    >>> err = AudioError.for_files({"a.mp3": "file not found", "b.wav": "empty file (0 bytes)"})
    >>> print(err)
    2 audio file(s) could not be read:
      a.mp3: file not found
      b.wav: empty file (0 bytes)
    >>> sorted(err.problems)
    ['a.mp3', 'b.wav']
    """

    def __init__(self, message: str, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems = dict(problems or {})

    def __reduce__(self):
        # keep the problems when the error travels from a worker process
        return type(self), (str(self), self.problems)

    @classmethod
    def for_file(cls, path: PathLike, reason: str) -> AudioError:
        """Build the error for one file.

        Parameters
        ----------
        path : str, bytes or os.PathLike
            The file.
        reason : str
            What is wrong with it.

        Returns
        -------
        AudioError
        """
        name = _display_path(path)
        return cls(f"{name}: {reason}", {name: reason})

    @classmethod
    def for_files(cls, problems: dict[str, str]) -> AudioError:
        """Build one error that lists every bad file.

        Parameters
        ----------
        problems : dict of str to str
            Path to reason, one entry per bad file.

        Returns
        -------
        AudioError
        """
        lines = [f"  {path}: {reason}" for path, reason in problems.items()]
        head = f"{len(problems)} audio file(s) could not be read:"
        return cls("\n".join([head, *lines]), problems)


@dataclass(frozen=True)
class AudioInfo:
    """What the container says about a file, read without decoding it.

    Parameters
    ----------
    path : str
        The file.
    format : str
        Container or codec name, such as ``"MP3"``, ``"FLAC"`` or ``"aac"``.
    duration : float
        Length in seconds.
    sr : int
        Native sampling rate in Hz.
    channels : int
        Number of channels.
    backend : str
        ``"soundfile"`` or ``"pyav"``: the decoder that will read it.

    Examples
    --------
    >>> AudioInfo("song.flac", "FLAC", 180.0, 44100, 2, "soundfile").duration
    180.0
    """

    path: str
    format: str
    duration: float
    sr: int
    channels: int
    backend: str


def _display_path(path: PathLike) -> str:
    return os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)


def _check_file(path: PathLike) -> str:
    """Return the path as ``str`` after the checks that need no decoder."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"expected a path (str, bytes or os.PathLike), got {type(path).__name__}")
    name = _display_path(path)
    p = Path(name)
    if not p.exists():
        raise AudioError.for_file(name, "file not found")
    if p.is_dir():
        raise AudioError.for_file(name, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError.for_file(name, "empty file (0 bytes)")
    return name


# --------------------------------------------------------------------------- probing
def _probe_soundfile(name: str) -> AudioInfo | None:
    import soundfile as sf

    try:
        with _quiet_c_stderr(True):  # mpg123 narrates its resyncs on non-MP3 data
            info = sf.info(name)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError):
        return None
    if info.samplerate <= 0:
        return None
    return AudioInfo(
        name, info.format, info.frames / info.samplerate, info.samplerate, info.channels,
        "soundfile",
    )


def _av_open(name: str):
    import av

    try:
        container = av.open(name)
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise AudioError.for_file(name, f"not a recognised audio file ({_short(exc)})") from exc
    if not container.streams.audio:
        container.close()
        raise AudioError.for_file(name, "contains no audio stream")
    return container


def _probe_pyav(name: str) -> AudioInfo:
    container = _av_open(name)
    try:
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        sr = int(ctx.sample_rate or stream.rate or 0)
        channels = int(ctx.channels or 0)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = float("nan")
        if not math.isfinite(duration):
            # no length in the header: count the decoded samples (rare: raw ADTS)
            n = 0
            for frame in container.decode(stream):
                n += frame.samples
            duration = n / sr if sr else 0.0
        return AudioInfo(name, ctx.name, duration, sr, channels, "pyav")
    finally:
        container.close()


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
    name = _check_file(path)
    info = _probe_soundfile(name) or _probe_pyav(name)
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
            problems.update(exc.problems or {_display_path(path): str(exc)})
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


# --------------------------------------------------------------------------- decoding
def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


class _StderrSilencer:
    """Point file descriptor 2 at the null device while any thread asks for it.

    The first thread in redirects, the last one out restores, and threads in
    between decode at the same time instead of waiting for one another.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: int | None = None

    def enter(self) -> None:
        with self._lock:
            if self._users == 0:
                try:
                    saved = os.dup(2)
                except OSError:  # no descriptor 2 (some embedded interpreters)
                    saved = None
                if saved is not None:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, 2)
                    os.close(devnull)
                self._saved = saved
            self._users += 1

    def exit(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._saved = None


_SILENCER = _StderrSilencer()

#: Seconds decoded and dropped before a window of a lossy stream, so that the
#: first samples of the window equal those of a full decode.
_PREROLL_SECONDS = 0.25


@contextmanager
def _quiet_c_stderr(active: bool):
    """Silence C-level stderr (file descriptor 2) for the duration of the block.

    libsndfile's MP3 decoder (mpg123) prints a "part2_3_length ... too large"
    line after every seek into a stream that uses the bit reservoir, and
    "Trying to resync" notes when it is handed data that is not MP3. The
    samples are right (the tests compare them with a full decode); the lines
    are noise. Python's own ``sys.stderr`` writes made meanwhile by other
    threads would be lost too, so the blocks are kept to opening, seeking and
    reading.
    """
    if not active:
        yield
        return
    _SILENCER.enter()
    try:
        yield
    finally:
        _SILENCER.exit()


def _read_soundfile(name: str, windows: Sequence[tuple[float, float | None]], mono: bool):
    """Read each (offset, duration) window with libsndfile; None when it can't open.

    With ``mono``, every window is mixed down as soon as it is read, through one
    frame buffer for all windows, and comes back as ``(1, samples)``.
    """
    import soundfile as sf

    try:
        with _quiet_c_stderr(True):
            f = sf.SoundFile(name)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError):
        return None
    out = []
    with f:
        sr, total = f.samplerate, f.frames
        is_mp3 = f.format == "MP3"
        # lossy decoders rebuild the first block after a seek from the one before it
        preroll = int(_PREROLL_SECONDS * sr) if f.format in ("MP3", "OGG") else 0
        buffer = np.empty((0, f.channels), dtype=np.float32)
        for offset, duration in windows:
            start = min(int(round(offset * sr)), total)
            want = total - start if duration is None else int(math.ceil(duration * sr))
            want = max(0, min(want, total - start))
            lead = min(preroll, start)
            try:
                with _quiet_c_stderr(is_mp3 and start > 0):
                    f.seek(start - lead)
                    if mono:
                        if len(buffer) < want + lead:
                            buffer = np.empty((want + lead, f.channels), dtype=np.float32)
                        data = f.read(out=buffer[:want + lead])[lead:]
                    else:
                        data = f.read(want + lead, dtype="float32", always_2d=True)[lead:]
            except (RuntimeError, sf.LibsndfileError) as exc:
                raise AudioError.for_file(name, f"corrupt or truncated ({_short(exc)})") from exc
            if duration is not None and len(data) < want:
                raise AudioError.for_file(
                    name,
                    f"corrupt or truncated: the header promises {total} frames but only "
                    f"{start + len(data)} could be read",
                )
            if mono:
                # the buffer is reused for the next window: keep a copy of a single channel
                data = _mix_down(data.T) if f.channels > 1 else data[:, 0].copy()
                out.append(data[None])
            else:
                out.append(data.T)
    return out, sr


def as_float_waveform(arr: np.ndarray) -> np.ndarray:
    """Samples as float32, integer PCM scaled to [-1, 1).

    Parameters
    ----------
    arr : ndarray
        Float samples (kept as they are), signed integer PCM (divided by
        ``2 ** (bits - 1)``) or unsigned PCM (centred on the middle value).

    Returns
    -------
    ndarray of float32

    Examples
    --------
    >>> as_float_waveform(np.array([-32768, 0, 16384], dtype=np.int16))
    array([-1. ,  0. ,  0.5], dtype=float32)
    """
    arr = np.asarray(arr)
    if arr.dtype.kind == "i":
        return (arr.astype(np.float32) / float(2 ** (8 * arr.dtype.itemsize - 1)))
    if arr.dtype.kind == "u":
        middle = float(2 ** (8 * arr.dtype.itemsize - 1))
        return (arr.astype(np.float32) - middle) / middle
    return arr.astype(np.float32, copy=False)


def _frame_array(frame) -> np.ndarray:
    """A decoded PyAV frame as float32 (channels, samples)."""
    arr = frame.to_ndarray()
    if not frame.format.is_planar:
        arr = arr.reshape(-1, len(frame.layout.channels)).T
    return as_float_waveform(arr)


def _read_pyav(name: str, windows: Sequence[tuple[float, float | None]]):
    """Read each window with PyAV: seek before it, trim decoded frames by time stamp."""
    import av

    container = _av_open(name)
    out = []
    try:
        stream = container.streams.audio[0]
        sr = int(stream.codec_context.sample_rate or stream.rate)
        tb = stream.time_base
        for offset, duration in windows:
            start = int(round(offset * sr))
            stop = None if duration is None else start + int(math.ceil(duration * sr))
            # Transform codecs (AAC, Vorbis, Opus) need the frames before a seek
            # point to rebuild it, so seek a little earlier and drop the surplus.
            target = offset - _PREROLL_SECONDS
            if target > 0:
                container.seek(int(target / tb), stream=stream, backward=True, any_frame=False)
            else:
                container.seek(0, stream=stream)
            pieces, pos = [], None
            try:
                for frame in container.decode(stream):
                    if frame.pts is None:
                        first = pos if pos is not None else 0
                    else:
                        first = int(round(float(frame.pts * tb) * sr))
                    pos = first + frame.samples
                    if pos <= start:
                        continue
                    arr = _frame_array(frame)
                    lo = max(0, start - first)
                    hi = frame.samples if stop is None else min(frame.samples, stop - first)
                    if hi > lo:
                        pieces.append(arr[:, lo:hi])
                    if stop is not None and pos >= stop:
                        break
            except av.error.FFmpegError as exc:
                raise AudioError.for_file(name, f"corrupt or truncated ({_short(exc)})") from exc
            if pieces:
                out.append(np.concatenate(pieces, axis=1))
            else:
                channels = len(stream.codec_context.layout.channels) or 1
                out.append(np.zeros((channels, 0), np.float32))
    finally:
        container.close()
    return out, sr


def _mix_down(data: np.ndarray) -> np.ndarray:
    """The mean of the channels of ``(channels, samples)``, equal to ``data.mean(axis=0)``.

    Decoders hand back interleaved frames, so the channels are a strided view; numpy's
    reduction across them is several times slower than adding whole rows.
    """
    if data.shape[0] == 1:
        return data[0]
    out = data[0].copy()
    for row in data[1:]:
        out += row
    out /= data.shape[0]
    return out


def _finish(data: np.ndarray, native_sr: int, sr: int | None, mono: bool) -> np.ndarray:
    """Mix down, resample, and return C-contiguous float32."""
    if mono:
        data = _mix_down(data)
    if sr is not None and sr != native_sr and data.shape[-1] > 0:
        import soxr

        if data.ndim == 1:
            data = soxr.resample(data, native_sr, sr, quality="HQ")
        else:
            data = soxr.resample(data.T, native_sr, sr, quality="HQ").T
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
    name = _check_file(path)
    windows = [(max(0.0, float(o)), duration) for o in offsets]
    result = _read_soundfile(name, windows, mono)
    if result is None:
        result = _read_pyav(name, windows)
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
        arr = _mix_down(arr)
    return np.ascontiguousarray(arr, dtype=np.float32)
