"""Explanations and the novelty score (issue 15).

- **Faithfulness.** 100 generated songs (12 s, 20 artists) get random labels and
  every "popular" one a steady 1 kHz tone (0.05 amplitude), so the tone is the only
  thing to learn. The default preset is trained on 16 artists (training seeds 0, 1,
  2); for the held-out songs that carry the tone, the attribution mass on the mel
  bands within 250 Hz of it, divided by those bands' share of the spectrogram's area
  (1 is chance). Target for the default method: at least 3.
- **Speed.** Explaining one 4-minute MP3 (decoding included), median of 3 runs.
  Target for the default method: under 2 s.
- **Novelty.** The default preset trained on 200 generated songs less four held-out
  artists; the held-out songs against out-of-distribution audio: white noise, tone
  sweeps, speech from Debian's ``espeak-ng`` (when installed), and songs of another
  style (slow chords, no drums or bass, made here). Target: ROC AUC >= 0.9. Also the
  two Debian soundtracks of the learning-curve benchmark, where they can be fetched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np

from benchmarks._common import median_time, stereo_song, table

CUE_HZ = 1000.0
SEEDS = (0, 1, 2)
METHODS = {  # label: (method, patch)
    "occlusion, 4 bands x 1 s (default)": ("occlusion", (4, 1.0)),
    "occlusion, 4 bands x 0.5 s": ("occlusion", (4, 0.5)),
    "occlusion, strips of 4 bands (whole interval)": ("occlusion", (4, 6.0)),
    "integrated gradients (32 steps)": ("integrated_gradients", (4, 1.0)),
    "input x gradient": ("input_x_gradient", (4, 1.0)),
}


def cue_set():
    """100 generated songs with random labels; every "popular" one carries a steady tone.

    Returns
    -------
    X : ndarray of shape (100, samples), y : ndarray of shape (100,), test : boolean mask
        The waveforms, the labels, and the songs of the four held-out artists.
    """
    from sklearn_songpop import make_songs

    songs = make_songs(n_songs=100, n_artists=20, duration=12.0, random_state=3)
    y = (np.random.default_rng(0).random(100) < 0.5).astype(int)
    X = np.stack(songs.waveforms).astype(np.float32)
    t = np.arange(X.shape[1]) / songs.sr
    X[y == 1] += (0.05 * np.sin(2 * np.pi * CUE_HZ * t)).astype(np.float32)
    test = np.isin(songs.groups, np.unique(songs.groups)[:4])
    return X, y, test


def _faithfulness(quick: bool) -> tuple[list[list], object]:
    from sklearn_songpop import explain, make_songpop_pipeline

    X, y, test = cue_set()
    cue_songs = X[test & (y == 1)]
    ratios = {label: [] for label in METHODS}
    pipe = None
    for seed in SEEDS[:1] if quick else SEEDS:
        pipe = make_songpop_pipeline("default", random_state=seed).fit(X[~test], y[~test])
        for label, (method, patch) in METHODS.items():
            why = explain(pipe, cue_songs, method=method, patch=patch)
            near = np.abs(why.frequencies - CUE_HZ) <= 250
            mass = np.abs(why.attributions)
            ratios[label].append(float(mass[:, :, near].sum() / mass.sum() / near.mean()))
    rows = [[label, f"{np.mean(r):.2f} ± {np.std(r):.2f}", " / ".join(f"{v:.2f}" for v in r)]
            for label, r in ratios.items()]
    return rows, pipe


def _speed(pipe) -> list[list]:
    from sklearn_songpop import explain
    from sklearn_songpop._write import write_audio

    folder = tempfile.mkdtemp()
    try:
        path = os.path.join(folder, "four_minutes.mp3")
        write_audio(path, stereo_song(240.0), 44100)
        rows = []
        for label, (method, patch) in METHODS.items():
            seconds = median_time(lambda m=method, p=patch: explain(pipe, [path], method=m,
                                                                    patch=p), repeat=3)
            rows.append([label, f"{seconds:.2f}"])
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _speech(n: int, seconds: float, sr: int) -> list[np.ndarray] | None:
    from sklearn_songpop import load_audio

    if shutil.which("espeak-ng") is None:
        return None
    texts = ["The quick brown fox jumps over the lazy dog while the band plays on.",
             "Popularity is hard to predict from audio alone, said the analyst.",
             "Welcome to the evening news. Here are the headlines for today.",
             "One two three four five six seven eight nine ten eleven twelve.",
             "Please stand clear of the closing doors, the next station is central."]
    out = []
    with tempfile.TemporaryDirectory() as folder:
        for i in range(n):
            path = os.path.join(folder, f"speech{i}.wav")
            voice = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "de"][i % 5]
            subprocess.run(["espeak-ng", "-v", voice, "-w", path, (texts[i % 5] + " ") * 4],
                           check=True, capture_output=True)
            out.append(np.resize(load_audio(path, sr=sr), int(seconds * sr)))
    return out


def _other_style(n: int, seconds: float, sr: int) -> list[np.ndarray]:
    """Slow major-seventh chords that swell and fade: no drums, no bass, no melody."""
    t_bar = np.arange(4 * sr) / sr
    out = []
    for seed in range(n):
        rng = np.random.default_rng(100 + seed)
        root = 110 * 2 ** (rng.integers(0, 12) / 12)
        bars = []
        for _ in range(int(np.ceil(seconds / 4))):
            chord = root * 2 ** ((np.array([0, 4, 7, 11]) + rng.choice([0, 5, 7, 9])) / 12)
            env = np.minimum(t_bar / 1.5, 1.0) * np.exp(-t_bar / 6)
            bars.append(sum(np.sin(2 * np.pi * f * t_bar) for f in chord) * env * 0.1)
        out.append(np.concatenate(bars)[: int(seconds * sr)])
    return out


def _sweeps(n: int, seconds: float, sr: int) -> list[np.ndarray]:
    t = np.arange(int(seconds * sr)) / sr
    ends = [(50, 8000), (8000, 100), (200, 2000), (1000, 10000), (60, 600)]
    return [0.3 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * seconds)))
            for f0, f1 in ends[:n]]


def _novelty(quick: bool) -> tuple[list[list], str]:
    from sklearn.metrics import roc_auc_score

    from sklearn_songpop import load_audio, make_songpop_pipeline, make_songs

    seconds, sr = 20.0, 22050
    songs = make_songs(n_songs=100 if quick else 200, n_artists=20, duration=seconds,
                       random_state=1)
    X = np.stack(songs.waveforms).astype(np.float32)
    test = np.isin(songs.groups, np.unique(songs.groups)[:4])
    pipe = make_songpop_pipeline("default", random_state=0).fit(X[~test], songs.y[~test])
    clf = pipe[-1]

    def novelty(waves, scale="share"):
        return clf.novelty(pipe[:-1].transform([np.asarray(w, np.float32) for w in waves]),
                           scale=scale)

    def auc(held, scores):
        return roc_auc_score(np.r_[np.zeros(len(held)), np.ones(len(scores))],
                             np.r_[held, scores])

    held_out = novelty(X[test])
    held_far = novelty(X[test], "distance")
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    kinds = {"white noise": [0.1 * rng.standard_normal(int(seconds * sr)) for _ in range(5)],
             "tone sweeps": _sweeps(5, seconds, sr),
             "speech (espeak-ng)": _speech(5, seconds, sr),
             "another style (slow chords)": _other_style(5, seconds, sr),
             "60 Hz hum": [0.3 * np.sin(2 * np.pi * 60 * t) + 0.01 * rng.standard_normal(len(t))
                           for _ in range(5)],
             "sparse clicks": [np.where(rng.random(len(t)) < 2e-4, 0.8, 0.0) for _ in range(5)],
             "near-silence": [1e-4 * rng.standard_normal(len(t)) for _ in range(5)]}
    from benchmarks.bench_learning_curve import real_tracks

    real = real_tracks()
    if real is not None:
        kinds["real soundtracks (flare-game, hedgewars)"] = [
            load_audio(p, sr=sr) for p in real[0][:: 3 if quick else 1]]
    rows, pooled, pooled_far = [], [], []
    for kind, waves in kinds.items():
        if waves is None:
            rows.append([kind, "-", "-", "not measured: espeak-ng is not installed", "-", "-"])
            continue
        scores, far = novelty(waves), novelty(waves, "distance")
        pooled.append(scores)
        pooled_far.append(far)
        rows.append([kind, len(scores), f"{np.median(scores):.3f}",
                     f"{auc(held_out, scores):.3f}", f"{np.median(far):.2f}",
                     f"{auc(held_far, far):.3f}"])
    allood, allfar = np.concatenate(pooled), np.concatenate(pooled_far)
    rows.append(["all of the above", len(allood), f"{np.median(allood):.3f}",
                 f"{auc(held_out, allood):.3f}", f"{np.median(allfar):.2f}",
                 f"{auc(held_far, allfar):.3f}"])
    ties = int((held_out >= allood.max()).sum())
    ref = clf.novelty_reference_
    per_song = ref.embeddings.nbytes / len(ref.embeddings) + ref.distances.itemsize
    memory = (f"Held-out songs (four artists never seen, {test.sum()} songs): novelty median "
              f"{np.median(held_out):.3f}, from {held_out.min():.3f} to {held_out.max():.3f} "
              f"({ties} of them at the top of the share, tied with audio that is not music); "
              f"distance median {np.median(held_far):.2f}, up to {held_far.max():.2f}; "
              f"training songs: median {np.median(novelty(X[~test][:40])):.3f}. The reference "
              f"costs {per_song:.0f} bytes a kept song: "
              f"{per_song * min(100_000, clf.novelty_songs) / 2**20:.1f} MiB for a model "
              f"trained on 100,000 songs with the default novelty_songs="
              f"{clf.novelty_songs:,} ({per_song * 100_000 / 2**20:.0f} MiB if all were kept).")
    return rows, memory


def run(quick: bool = False) -> str:
    faith, pipe = _faithfulness(quick)
    speed = _speed(pipe)
    nov_rows, memory = _novelty(quick)
    seconds = {row[0]: row[1] for row in speed}
    lines = [
        "## Explanations: attribution on a planted cue, speed, novelty",
        "",
        "Attribution mass on the mel bands within 250 Hz of a planted 1 kHz tone, over "
        "those bands' share of the area (1 is chance; target >= 3 for the default), for "
        "the held-out songs that carry it; mean ± sd over training seeds "
        f"{', '.join(map(str, SEEDS[:1] if quick else SEEDS))}, then each seed; and "
        "seconds to explain one 4-minute MP3, decoding included (target < 2 s for the "
        "default).",
        "",
        table(["method", "cue mass / area share", "per seed", "s per 4-min song"],
              [[*row, seconds[row[0]]] for row in faith]),
        "",
        "### Novelty: held-out generated songs against audio unlike them",
        "",
        "The share (``novelty(X)``) and the distance over the training songs' median "
        "(``novelty(X, scale=\"distance\")``), each against the held-out songs.",
        "",
        table(["out-of-distribution audio", "songs", "median share", "ROC AUC (share)",
               "median distance", "ROC AUC (distance)"], nov_rows),
        "",
        memory,
    ]
    return "\n".join(lines)
