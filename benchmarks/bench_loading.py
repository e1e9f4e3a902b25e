"""Loading three 3-second intervals against librosa.load, per format and song length.

The songs are 44.1 kHz stereo and every reader resamples to 22,050 Hz mono.
Targets (issue 2): three windows at least 15x faster than ``librosa.load`` of the whole
MP3, and at least 20x faster than ``librosa.load(offset=..., duration=...)`` on an M4A.
A window from minute 3 should cost about what one from second 1 costs.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from benchmarks._common import median_time, stereo_song, table

FORMATS = ("wav", "flac", "ogg", "mp3", "m4a")


def run(quick: bool = False) -> str:
    import librosa

    from sklearn_songpop._write import write_audio
    from sklearn_songpop.audio import load_windows

    sr, native = 22050, 44100
    lengths = (240.0,) if quick else (240.0, 600.0)
    repeat = 3 if quick else 5
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in lengths:
            y = stereo_song(seconds, native)
            starts = [seconds / 6, seconds / 2, 5 * seconds / 6]
            for fmt in FORMATS:
                path = Path(tmp) / f"song_{int(seconds)}.{fmt}"
                write_audio(path, y, native)
                ours = median_time(lambda p=path, s=starts: load_windows(p, s, 3.0, sr=sr),
                                   repeat)
                early = median_time(lambda p=path: load_windows(p, [1.0], 3.0, sr=sr), repeat)
                late = median_time(lambda p=path: load_windows(p, [180.0], 3.0, sr=sr), repeat)

                def whole(path=path):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        librosa.load(path, sr=sr)

                def windows(path=path, starts=starts):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        for s in starts:
                            librosa.load(path, sr=sr, offset=s, duration=3.0)

                try:
                    t_whole = median_time(whole, max(1, repeat // 2))
                    t_win = median_time(windows, max(1, repeat // 2))
                    ref = (f"{t_whole * 1e3:.0f} ms", f"{t_whole / ours:.0f}x",
                           f"{t_win * 1e3:.0f} ms", f"{t_win / ours:.0f}x")
                except Exception as exc:  # librosa needs an audioread backend for M4A
                    ref = (f"n/a ({type(exc).__name__}: install ffmpeg)",) + ("n/a",) * 3
                rows.append([f"{seconds / 60:.0f} min", fmt, f"{ours * 1e3:.1f} ms", *ref,
                             f"{late / early:.2f}"])
    return "## Loading three 3-second intervals\n\n" + table(
        ["song", "format", "songpop: 3 windows", "librosa.load whole", "speed-up",
         "librosa.load 3x offset/duration", "speed-up", "window at 3:00 / at 0:01"], rows)
