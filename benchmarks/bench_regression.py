"""Popularity as a number: the regressor against the baselines, and forward in time.

Issue 14. Generated songs (``make_songs(n_songs=300, n_artists=30, duration=20.0,
random_state=0)``), ``GroupKFold(5)`` by artist, three training seeds of the
default regression pipeline, against a ridge regression on the log-mel band
statistics and the training mean (:func:`sklearn_songpop.evaluate`).

- Target: the regressor's Spearman rho at least the ridge's + 0.1.
- Does the number say more than the label? The regressor's predictions for
  each test fold, thresholded at their top 22%, are scored as a classifier (ROC
  AUC of the predictions against the labels, balanced accuracy of the
  thresholded ones), beside the default classifier trained on the labels, on
  the same folds and seeds.

Every score is the mean over test folds (as :class:`RegressionResult` gives
it): pooled out-of-fold predictions carry fold-to-fold shifts that score even
the training mean.
- Forward in time: the same comparison on songs whose hits drift in sound over
  the years (``drift=1.0``), with ``ReleaseYearSplit(3)`` beside ``GroupKFold(5)``
  by artist.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._common import table

N_SONGS = 300
TRAIN_SEEDS = (0, 1, 2)
DRIFT_SEEDS = (0, 1)
POPULAR_SHARE = 0.22


def _songs(n: int, drift: float):
    from sklearn_songpop import make_songs

    return make_songs(n_songs=n, n_artists=max(5, n // 10), duration=20.0, drift=drift,
                      random_state=0)


def _front(songs, task: str):
    """The pipeline, and its songs decoded once (the sampler learns nothing)."""
    from sklearn_songpop import make_songpop_pipeline

    pipe = make_songpop_pipeline(task=task, random_state=0)
    return pipe, pipe[0].fit_transform(np.stack(songs.waveforms))


def _as_classifier(y, scores, splits) -> dict:
    """Scores of a ranking against the labels, the top ``POPULAR_SHARE`` of each test fold
    called popular; means over folds."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    auc, ba = [], []
    for _, test in splits:
        called = scores[test] >= np.quantile(scores[test], 1 - POPULAR_SHARE)
        auc.append(roc_auc_score(y[test], scores[test]))
        ba.append(balanced_accuracy_score(y[test], called))
    return {"auc": float(np.nanmean(auc)), "ba": float(np.mean(ba))}


def _mean_sd(values) -> str:
    values = np.asarray(values, float)
    return f"{values.mean():.3f} ± {values.std():.3f}"


def _number_vs_label(quick: bool) -> tuple[list[list], list[list], list[str]]:
    from sklearn.model_selection import GroupKFold

    from sklearn_songpop import evaluate

    songs = _songs(120 if quick else N_SONGS, drift=0.0)
    seeds = TRAIN_SEEDS[:2] if quick else TRAIN_SEEDS
    cv = GroupKFold(5)
    pipe, windows = _front(songs, "regression")
    clf_pipe, _ = _front(songs, "classification")
    splits = list(cv.split(windows, groups=songs.groups))
    runs, baselines, as_clf, clf_runs = [], None, [], []
    for seed in seeds:
        model = pipe[1:].set_params(regressor__random_state=seed)
        result = evaluate(model, windows, songs.popularity, groups=songs.groups, cv=cv,
                          baselines=baselines is None, name="regressor")
        if baselines is None:
            baselines = {k: v for k, v in result.scores.items() if k != "regressor"}
        runs.append(result.scores["regressor"] | {"fit_s": result.fit_time["regressor"]})
        as_clf.append(_as_classifier(songs.y, result.pred["regressor"], splits))
        clf = evaluate(clf_pipe[1:].set_params(classifier__random_state=seed), windows,
                       songs.y, groups=songs.groups, cv=cv, baselines=False,
                       name="classifier")
        folds = clf.fold_scores["classifier"]
        clf_runs.append({"auc": float(np.nanmean(folds["roc_auc"])),
                         "ba": float(np.mean(folds["balanced_accuracy"]))})
    metrics = ("spearman", "r2", "mae", "top10_precision", "top10_ndcg")
    rows = [["default regressor", len(runs), *(_mean_sd([r[m] for r in runs]) for m in metrics)]]
    rows += [[name, 1, *(f"{s[m]:.3f}" for m in metrics)] for name, s in baselines.items()]
    rho = np.mean([r["spearman"] for r in runs])
    ridge = baselines["log-mel band statistics"]["spearman"]
    verdicts = [f"Spearman rho {rho:.3f} against the ridge's {ridge:.3f} + 0.10: "
                f"{'met' if rho >= ridge + 0.1 else 'NOT met'}; regressor fits "
                f"{sum(r['fit_s'] for r in runs):.0f} s"]
    label_rows = [
        ["regressor on the number, top 22% called popular", len(as_clf),
         _mean_sd([r["auc"] for r in as_clf]), _mean_sd([r["ba"] for r in as_clf])],
        ["classifier on the label", len(clf_runs), _mean_sd([r["auc"] for r in clf_runs]),
         _mean_sd([r["ba"] for r in clf_runs])],
    ]
    return rows, label_rows, verdicts


def _forward(quick: bool) -> list[list]:
    from sklearn.model_selection import GroupKFold

    from sklearn_songpop import evaluate

    songs = _songs(120 if quick else N_SONGS, drift=1.0)
    pipe, windows = _front(songs, "regression")
    seeds = DRIFT_SEEDS[:1] if quick else DRIFT_SEEDS
    by = {"regressor": {"artist": [], "time": []}}
    for i, seed in enumerate(seeds):
        result = evaluate(pipe[1:].set_params(regressor__random_state=seed), windows,
                          songs.popularity, groups=songs.groups, cv=GroupKFold(5),
                          times=songs.year, baselines=i == 0, name="regressor")
        for name in result.scores:
            by.setdefault(name, {"artist": [], "time": []})
            by[name]["artist"].append(result.scores[name]["spearman"])
            by[name]["time"].append(result.forward.scores[name]["spearman"])
    years = np.unique(songs.year)[-3:]
    return [[name, len(v["artist"]), _mean_sd(v["artist"]), _mean_sd(v["time"]),
             ", ".join(str(y) for y in years)] for name, v in by.items()]


def run(quick: bool = False) -> str:
    from sklearn_songpop.cli import steady_allocator

    steady_allocator()
    t0 = time.perf_counter()
    rows, label_rows, verdicts = _number_vs_label(quick)
    forward = _forward(quick)
    n = 120 if quick else N_SONGS
    return "\n".join([
        f"## Popularity as a number ({n} generated songs, GroupKFold(5) by artist)", "",
        "The default regression pipeline (mean ± standard deviation over training seeds) "
        "against the baselines on the same folds; each score is the mean over the test "
        "folds.", "",
        table(["model", "runs", "Spearman rho", "R^2", "MAE", "top-10% precision",
               "top-10% NDCG"], rows), "",
        *[f"- {v}" for v in verdicts], "",
        "### Does the number say more than the label?", "",
        table(["model", "runs", "ROC AUC against the labels", "balanced accuracy"],
              label_rows), "",
        "### Forward in time (hits drift in sound over the years, drift=1.0)", "",
        table(["model", "runs", "Spearman rho, GroupKFold(5) by artist",
               "Spearman rho, ReleaseYearSplit(3)", "test years"], forward), "",
        f"- time: {time.perf_counter() - t0:.0f} s",
    ])
