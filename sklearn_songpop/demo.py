"""The main job: generated songs on disk, honest cross-validation, report, figures, model."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo"]


def _say(verbose: int, text: str) -> None:
    if verbose:
        print(text, flush=True)


def run_demo(
    n_songs: int = 200,
    cache: str | os.PathLike = ".songpop_cache",
    out: str | os.PathLike = "songpop_output",
    random_state: int = 0,
    duration: float = 20.0,
    n_splits: int = 5,
    verbose: int = 1,
) -> dict:
    """Generate songs as MP3 and M4A files, cross-validate by artist, report, save a model.

    Parameters
    ----------
    n_songs : int, default=200
        Songs to generate (22% popular, as in the seed's data).
    cache : str or os.PathLike, default=".songpop_cache"
        Folder for the generated audio; reused on later runs.
    out : str or os.PathLike, default="songpop_output"
        Folder for ``report.txt``, ``report.json``, figures and ``model.joblib``.
    random_state : int, default=0
        Seed of the songs, the splits' models and the final model.
    duration : float, default=20.0
        Length of each generated song, in seconds.
    n_splits : int, default=5
        Folds of the cross-validation.
    verbose : int, default=1
        Print progress.

    Returns
    -------
    dict
        Paths of what was written, and the evaluation results.
    """
    from sklearn.model_selection import GroupKFold

    from sklearn_songpop.datasets import load_manifest, make_songs, write_songs
    from sklearn_songpop.evaluation import evaluate, leak_comparison
    from sklearn_songpop.explain import explain
    from sklearn_songpop.persistence import save_model
    from sklearn_songpop.pipeline import make_songpop_pipeline
    from sklearn_songpop.report import explained_songs, write_report

    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(cache) / f"songs_n{n_songs}_d{duration:g}_seed{random_state}"
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        _say(verbose, f"[1/6] generating {n_songs} songs into {folder} (MP3 and M4A) ...")
        songs = make_songs(n_songs=n_songs, duration=duration,
                           n_artists=max(n_splits, n_songs // 10), random_state=random_state)
        write_songs(songs, folder, format=("mp3", "m4a"))
    else:
        _say(verbose, f"[1/6] reusing the songs in {folder}")
    _say(verbose, "[2/6] scanning the files ...")
    data = load_manifest(manifest)  # probes every file; one error lists all bad ones
    n_pop = int(np.sum(data.y == 1))
    _say(verbose, f"      {len(data.paths)} songs, {n_pop} popular, "
                  f"{len(np.unique(data.groups))} artists")

    pipe = make_songpop_pipeline("default", random_state=random_state)
    _say(verbose, "[3/6] decoding three 3-second intervals per song ...")
    intervals = pipe.named_steps["intervals"]
    X = intervals.fit_transform(data.paths)
    model = pipe[1:]  # the sampler learns nothing: decoding once leaks nothing between folds
    _say(verbose, f"[4/6] {n_splits}-fold cross-validation by artist: the default preset "
                  "and two baselines ...")
    result = evaluate(model, X, data.y, groups=data.groups, cv=GroupKFold(n_splits),
                      name="default preset", verbose=verbose)
    leak = leak_comparison(result, X, data.y, random_state=random_state)
    (apart, mixed) = leak.values()
    lesson = (
        f"\nWhy group by artist: the log-mel baseline scores balanced accuracy "
        f"{mixed['balanced_accuracy']:.3f} and ROC AUC {mixed['roc_auc']:.3f} when songs of one "
        "artist reach both train and test (StratifiedKFold), against "
        f"{apart['balanced_accuracy']:.3f} and {apart['roc_auc']:.3f} by artist (GroupKFold): "
        "the difference is the artist's style leaking, not a hit's sound."
    )
    report = str(result) + "\n" + lesson
    print(report, flush=True)

    _say(verbose, "[5/6] fitting the final model on every song ...")
    final = make_songpop_pipeline("default", random_state=random_state)
    final.fit(data.paths, data.y)
    model_path = out / "model.joblib"
    save_model(final, model_path)

    _say(verbose, "[6/6] writing the report and figures ...")
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    result.save_json(out / "report.json", extra={"leak_comparison": leak})
    figures = result.plot(out)
    figures += _model_figures(final, data, X, out)
    song = int(np.flatnonzero(data.y == 1)[0])
    songs = explained_songs(explain(final, [data.paths[song]]), [Path(data.paths[song]).name])
    page = write_report(out, "sklearn-songpop demo", summary=result.to_dict(), leak=leak,
                        figures=[(Path(f).stem.replace("_", " "), f) for f in figures],
                        songs=songs, notes=[lesson.strip()])
    elapsed = time.perf_counter() - t_start
    print(f"\nDone in {elapsed:.0f} s. Written to {out.resolve()}:\n  "
          + "\n  ".join(str(p) for p in [page, out / "report.txt", out / "report.json",
                                         model_path, *figures]))
    return {"result": result, "leak": leak, "model": str(model_path), "figures": figures,
            "report": str(page), "seconds": elapsed}


def _model_figures(final, data, X, out: Path) -> list[str]:
    """Training curves, a spectrogram, and the interval timeline of a popular song."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from sklearn_songpop.audio import audio_duration
    from sklearn_songpop.intervals import IntervalSampler, window_starts
    from sklearn_songpop.plotting import (
        plot_interval_timeline,
        plot_spectrogram,
        plot_training_curves,
    )

    written = []
    clf = final.named_steps["classifier"]
    spec = final.named_steps["spectrogram"]
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_training_curves(clf, ax=ax)
    ax.set_title("Final model: loss by epoch")
    written.append(_save(fig, out / "training_curves.png"))

    song = int(np.flatnonzero(data.y == 1)[0])
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_spectrogram(spec.transform(X[song:song + 1])[0, 0], spec, ax=ax)
    ax.set_title(f"Log-mel spectrogram, first interval of {Path(data.paths[song]).name}")
    written.append(_save(fig, out / "spectrogram.png"))

    sampler = final.named_steps["intervals"]
    length = audio_duration(data.paths[song])
    n = max(3, int(length // sampler.duration))
    timeline = IntervalSampler(n_intervals=n, duration=sampler.duration, sr=sampler.sr,
                               strategy="even")
    windows = timeline.fit_transform([data.paths[song]])
    proba = clf.predict_interval_proba(spec.transform(windows))[0]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    starts = window_starts(length, n, sampler.duration, "even")
    pos = list(clf.classes_).index(1)
    plot_interval_timeline(starts, proba[:, pos], sampler.duration, ax=ax)
    ax.set_title(f"Which parts of {Path(data.paths[song]).name} sound like a hit")
    written.append(_save(fig, out / "interval_timeline.png"))
    return written


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
