"""Writing waveforms to audio files (used by the datasets module and the tests)."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

_BLOCK = 65536  # frames per write

#: Formats :func:`write_audio` can write, by file extension.
WRITABLE_FORMATS = ("wav", "flac", "ogg", "mp3", "m4a")


def write_audio(path: str | os.PathLike, y: np.ndarray, sr: int, bitrate: int = 128_000) -> None:
    """Write a mono or ``(channels, samples)`` float waveform to ``path``.

    The format follows the extension: wav, flac, ogg (Vorbis) and mp3 through
    libsndfile, m4a (AAC) through PyAV.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its extension picks the format.
    y : ndarray
        Samples in [-1, 1], 1-D or ``(channels, samples)``.
    sr : int
        Sampling rate in Hz.
    bitrate : int, default=128000
        Bit rate of the AAC stream in m4a files.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in WRITABLE_FORMATS:
        raise ValueError(f"cannot write {path!r}: format must be one of {WRITABLE_FORMATS}")
    data = np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0)
    if ext == "m4a":
        _write_m4a(path, data, sr, bitrate)
        return
    import soundfile as sf

    subtype = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS", "mp3": "MPEG_LAYER_III"}[ext]
    frames = data.T if data.ndim == 2 else data
    channels = 1 if frames.ndim == 1 else frames.shape[1]
    # written in blocks: libsndfile's Vorbis encoder crashes on one large write
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype=subtype) as f:
        for start in range(0, len(frames), _BLOCK):
            f.write(frames[start:start + _BLOCK])


def _write_m4a(path: str, data: np.ndarray, sr: int, bitrate: int) -> None:
    import av

    planar = data[None, :] if data.ndim == 1 else data
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    if planar.shape[0] > 2:
        raise ValueError("m4a output supports one or two channels")
    with av.open(path, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=sr)
        stream.bit_rate = bitrate
        stream.layout = layout
        stream.time_base = Fraction(1, sr)
        frame_size = 1024
        for start in range(0, planar.shape[1], frame_size):
            chunk = np.ascontiguousarray(planar[:, start:start + frame_size])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = sr
            frame.pts = start
            frame.time_base = Fraction(1, sr)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
