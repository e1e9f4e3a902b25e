"""Shared fixtures: audio made here, never downloaded."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from sklearn_songpop._write import write_audio
from sklearn_songpop.datasets import make_songs

SR = 22050


def pytest_configure(config):
    """Under pytest-xdist, share the cores among the workers instead of oversubscribing them.

    Each worker would otherwise run torch and BLAS on every core; on two cores two
    workers of one thread each run the suite about 1.4 times as fast as one of two.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers is not None:
        threads = max(1, (os.cpu_count() or 1) // int(workers))
        torch.set_num_threads(threads)
        threadpool_limits(threads)


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


def quick(task: str = "classification", **overrides) -> dict:
    """Settings that make a default-preset pipeline fit in about a second.

    For tests that need a fitted model, not a good one: a small network, two epochs,
    no validation split and no callbacks. How well the recipe learns is measured in
    ``benchmarks/``, not here.
    """
    step = {"classification": "classifier", "regression": "regressor"}[task]
    return {"spectrogram__n_mels": 32, f"{step}__max_epochs": 2,
            f"{step}__module__channels": (4, 8), f"{step}__callbacks": None,
            f"{step}__train_split": None, **overrides}


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
