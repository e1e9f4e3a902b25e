"""Shared fixtures: audio made here, never downloaded."""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_songpop._write import write_audio
from sklearn_songpop.datasets import make_songs

SR = 22050


def chirp(seconds: float, sr: int = SR, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A rising tone with a little noise: every window of it is different."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    tone = 0.4 * np.sin(2 * np.pi * (200 + 40 * t) * t) + 0.02 * rng.standard_normal(t.size)
    if channels == 1:
        return tone.astype(np.float32)
    return np.stack([tone * (0.5 + 0.5 * c / channels) for c in range(channels)]).astype(
        np.float32
    )


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory):
    """A 12-second chirp written in every supported format."""
    folder = tmp_path_factory.mktemp("formats")
    y = chirp(12.0)
    paths = {}
    for ext in ("wav", "flac", "ogg", "mp3", "m4a"):
        paths[ext] = folder / f"chirp.{ext}"
        write_audio(paths[ext], y, SR)
    return paths


@pytest.fixture(scope="session")
def small_songs():
    """Forty short generated songs, 22% popular, eight artists."""
    return make_songs(n_songs=40, n_artists=8, duration=8.0, random_state=0)
