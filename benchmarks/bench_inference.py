"""Predicting one new 4-minute MP3 with a loaded default model, warm (target: under 0.3 s)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks._common import median_time, table


def run(quick: bool = False) -> str:
    from sklearn_songpop._write import write_audio
    from sklearn_songpop.datasets import make_songs
    from sklearn_songpop.persistence import load_model, save_model
    from sklearn_songpop.pipeline import make_songpop_pipeline

    songs = make_songs(n_songs=40, n_artists=4, duration=10.0, random_state=0)
    pipe = make_songpop_pipeline("default", random_state=0, classifier__max_epochs=2)
    pipe.fit(np.stack(songs.waveforms), songs.y)
    with tempfile.TemporaryDirectory() as tmp:
        save_model(pipe, Path(tmp) / "model.joblib")
        model = load_model(Path(tmp) / "model.joblib")
        song = Path(tmp) / "new.mp3"
        write_audio(song, np.resize(songs.waveforms[0], 240 * songs.sr), songs.sr)
        t = median_time(lambda: model.predict_proba([song]), repeat=5 if quick else 11)
    return "## Predicting one new song\n\n" + table(
        ["input", "model", "median time (warm)", "target"],
        [["4-minute MP3", "default preset, loaded with joblib", f"{t * 1e3:.0f} ms", "< 300 ms"]])
