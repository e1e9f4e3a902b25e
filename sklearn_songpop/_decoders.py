"""The two decoders behind :mod:`sklearn_songpop.audio`, and the error they raise.

``soundfile`` (libsndfile) opens WAV, FLAC, OGG/Vorbis, MP3 and AIFF and seeks
to a sample directly. Everything else (M4A/AAC, MP4, Opus, ...) goes through
PyAV, the FFmpeg binding, which seeks to a packet before the target; the
decoded frames are then trimmed by their time stamps so that a window holds
the same samples as the same slice of a full decode. Each reader takes a
checked file name and a list of windows and returns the raw frames and the
native rate; :mod:`sklearn_songpop.audio` mixes, resamples and checks.

This module knows nothing of scikit-learn or torch.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

__all__ = [
    "AudioError",
    "AudioInfo",
    "as_float_waveform",
    "av_open",
    "check_file",
    "display_path",
    "mix_down",
    "probe_pyav",
    "probe_soundfile",
    "quiet_c_stderr",
    "read_pyav",
    "read_soundfile",
    "reason_of",
]

PathLike = Union[str, bytes, os.PathLike]


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

    @property
    def reason(self) -> str:
        """What is wrong, for an error about one file: its reason without the path.

        Examples
        --------
        >>> AudioError.for_files({"a.mp3": "file not found"}).reason
        'file not found'
        """
        return next(iter(self.problems.values()), str(self))

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
        name = display_path(path)
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


def display_path(path: PathLike) -> str:
    return os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)


def check_file(path: PathLike) -> str:
    """Return the path as ``str`` after the checks that need no decoder."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"expected a path (str, bytes or os.PathLike), got {type(path).__name__}")
    name = display_path(path)
    p = Path(name)
    if not p.exists():
        raise AudioError.for_file(name, "file not found")
    if p.is_dir():
        raise AudioError.for_file(name, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError.for_file(name, "empty file (0 bytes)")
    return name


# --------------------------------------------------------------------------- probing
def probe_soundfile(name: str) -> AudioInfo | None:
    import soundfile as sf

    try:
        with quiet_c_stderr(True):  # mpg123 narrates its resyncs on non-MP3 data
            info = sf.info(name)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError):
        return None
    if info.samplerate <= 0:
        return None
    return AudioInfo(
        name, info.format, info.frames / info.samplerate, info.samplerate, info.channels,
        "soundfile",
    )


def av_open(name: str):
    import av

    try:
        container = av.open(name)
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise AudioError.for_file(name, f"not a recognised audio file ({reason_of(exc)})") from exc
    if not container.streams.audio:
        container.close()
        raise AudioError.for_file(name, "contains no audio stream")
    return container


def probe_pyav(name: str) -> AudioInfo:
    container = av_open(name)
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


# --------------------------------------------------------------------------- decoding
def reason_of(exc: BaseException) -> str:
    """The first line of a decoder's error, without FFmpeg's ``[Errno N]`` prefix."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text[0])[:200]


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
def quiet_c_stderr(active: bool):
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


def read_soundfile(name: str, windows: Sequence[tuple[float, float | None]], mono: bool):
    """Read each (offset, duration) window with libsndfile; None when it can't open.

    With ``mono``, every window is mixed down as soon as it is read, through one
    frame buffer for all windows, and comes back as ``(1, samples)``.
    """
    import soundfile as sf

    try:
        with quiet_c_stderr(True):
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
                with quiet_c_stderr(is_mp3 and start > 0):
                    f.seek(start - lead)
                    if mono:
                        if len(buffer) < want + lead:
                            buffer = np.empty((want + lead, f.channels), dtype=np.float32)
                        data = f.read(out=buffer[:want + lead])[lead:]
                    else:
                        data = f.read(want + lead, dtype="float32", always_2d=True)[lead:]
            except (RuntimeError, sf.LibsndfileError) as exc:
                raise AudioError.for_file(name, f"corrupt or truncated ({reason_of(exc)})") from exc
            if duration is not None and len(data) < want:
                raise AudioError.for_file(
                    name,
                    f"corrupt or truncated: the header promises {total} frames but only "
                    f"{start + len(data)} could be read",
                )
            if mono:
                # the buffer is reused for the next window: keep a copy of a single channel
                data = mix_down(data.T) if f.channels > 1 else data[:, 0].copy()
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


def read_pyav(name: str, windows: Sequence[tuple[float, float | None]]):
    """Read each window with PyAV: seek before it, trim decoded frames by time stamp."""
    import av

    container = av_open(name)
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
                raise AudioError.for_file(name, f"corrupt or truncated ({reason_of(exc)})") from exc
            if pieces:
                out.append(np.concatenate(pieces, axis=1))
            else:
                channels = len(stream.codec_context.layout.channels) or 1
                out.append(np.zeros((channels, 0), np.float32))
    finally:
        container.close()
    return out, sr


def mix_down(data: np.ndarray) -> np.ndarray:
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
