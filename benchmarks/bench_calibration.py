"""Calibrated probabilities and conformal sets and intervals, by artist (issue 31).

- Generated songs: 400 songs of 80 artists (20 s each), data seeds 1 and 2, scored out
  of fold with StratifiedGroupKFold(5) by artist: the default preset (training seeds 0
  and 1), the paper preset, the musicnn head, the log-mel baseline and the majority
  class.
- Calibration: the expected calibration error (10 bins of equal size) and the Brier
  score of the pooled out-of-fold probabilities, raw and calibrated. "Calibrated,
  nested" is the shipped estimator: an ``ArtistCalibratedClassifier`` (sigmoid,
  StratifiedGroupKFold(5) by artist) fitted inside each outer training set, six fits a
  fold: 30 trainings of a network a data set, done for the default preset's seed 0.
  "Cross-fitted", for every model: a sigmoid fitted on the other outer folds'
  out-of-fold scores (the scores the nested estimator fits its map on, from models
  that saw this fold's songs), a shortcut measured beside the nested estimator.
- Conformal sets: over 20 random splits of the artists into halves, the out-of-fold
  scores of one half calibrate (artists weighing the same), the other half is tested:
  coverage and mean set size at alpha 0.1 and 0.2. For the cheap models also the shipped
  ``ConformalClassifier``, refitted on each split (half the artists to fit, a quarter to
  calibrate, a quarter to test).
- Conformal intervals: ``ConformalRegressor`` on the songs' popularity numbers, the
  log-mel ridge and the musicnn ridge, over 20 artist splits; the mean width beside the
  plain regressor's mean absolute error.
- Real recordings: the learning-curve benchmark's 38 soundtrack tracks (flare-game
  against hedgewars-data). Two soundtracks are two composers, so each track is its own
  group; the musicnn head and the log-mel baseline, 100 random splits (19 tracks to fit,
  10 to calibrate, 9 to test).

Targets: the calibrated default's expected calibration error at most 0.05 and its Brier
score no worse than uncalibrated. Coverage: issue 31 asked for 1 - alpha within 0.03; a
method whose guarantee holds for a new artist must cover (1 - alpha)(m + 1)/m of the m
calibration artists' songs, which with m = 20 is 0.945 at alpha 0.1. So the target is
coverage from 1 - alpha - 0.03 up to that share + 0.03, for alpha 0.1 and 0.2, on
generated songs and on the real recordings.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks._common import cached_json, table

N_SONGS, N_ARTISTS, DURATION = 400, 80, 20.0
DATA_SEEDS = (1, 2)
NET_SEEDS = (0, 1)
ALPHAS = (0.1, 0.2)
SPLITS = 20
REAL_SPLITS = 100
#: The network also calibrated by the shipped estimator, nested (30 trainings a data set)
NESTED = ("default preset (seed 0)",)
RESULTS_DIR = Path(__file__).parent / "results"
VERSION = "calibration-1"


#: The parts of this run that an earlier run computed, with their compute times.
_READ_BACK: list[str] = []


def _cached(name: str, quick: bool, compute):
    """A part's result, computed once and kept in ``RESULTS_DIR``."""
    path = RESULTS_DIR / f"{VERSION}_{name}{'_quick' if quick else ''}.json"
    value, seconds, read_back = cached_json(path, lambda: compute(quick))
    if read_back:
        _READ_BACK.append(f"{name} ({seconds:.0f} s, `results/{path.name}`)")
    return value


def _oof(model, X, y, splits, groups=None) -> np.ndarray:
    """Out-of-fold probabilities of the positive class; groups reach a calibrated model."""
    from sklearn.base import clone
    from sklearn.utils.validation import has_fit_parameter

    proba = np.full(len(y), np.nan)
    for train, test in splits:
        extra = {"groups": groups[train]} if has_fit_parameter(model, "groups") else {}
        proba[test] = clone(model).fit(X[train], y[train], **extra).predict_proba(
            X[test])[:, 1]
    return proba


def _cross_fitted(proba, y, splits) -> np.ndarray:
    """Each outer fold's scores mapped by a sigmoid fitted on the other folds' scores."""
    from sklearn.linear_model import LogisticRegression

    out = np.empty(len(y))
    for _, test in splits:
        others = np.ones(len(y), bool)
        others[test] = False
        # Platt's sigmoid, as CalibratedClassifierCV fits it: on the score itself
        platt = LogisticRegression(C=1e10).fit(proba[others, None], y[others])
        out[test] = platt.predict_proba(proba[test, None])[:, 1]
    return out


def _ece_floor(proba, seed: int = 0, draws: int = 200) -> float:
    """The ECE a perfectly calibrated model with these probabilities would show on this many
    songs: labels drawn from the probabilities themselves, the mean over draws."""
    from sklearn_songpop.metrics import expected_calibration_error

    rng = np.random.default_rng(seed)
    return float(np.mean([expected_calibration_error(rng.random(len(proba)) < proba, proba,
                                                     pos_label=True) for _ in range(draws)]))


def _split_coverage(proba, y, groups, seed_base: int = 0) -> dict:
    """Coverage and set size over random halvings of the artists, from fixed scores."""
    from sklearn_songpop.conformal import conformal_quantile

    scores = np.where(y == 1, 1.0 - proba, proba)
    artists = np.unique(groups)
    out = {str(a): {"coverage": [], "size": []} for a in ALPHAS}
    for s in range(SPLITS):
        rng = np.random.default_rng(seed_base + s)
        calib = np.isin(groups, rng.permutation(artists)[: len(artists) // 2])
        for a in ALPHAS:
            q = conformal_quantile(scores[calib], a, groups[calib])
            # class 0's score is 1 - p(0) = p(1); class 1's is 1 - p(1)
            sets = np.stack([proba <= q, 1.0 - proba <= q], axis=1)[~calib]
            out[str(a)]["coverage"].append(float(sets[np.arange(len(sets)), y[~calib]].mean()))
            out[str(a)]["size"].append(float(sets.sum(axis=1).mean()))
    return out


def _refit_coverage(model, X, y, groups, regression: bool, n_splits: int,
                    calibrate: float, test: float) -> dict:
    """The shipped conformal estimator refitted on random artist splits."""
    from sklearn.model_selection import GroupShuffleSplit

    from sklearn_songpop import ConformalClassifier, ConformalRegressor

    wrapper = ConformalRegressor if regression else ConformalClassifier
    out = {str(a): {"coverage": [], "size": []} for a in ALPHAS}
    errors = []
    outer = GroupShuffleSplit(n_splits=n_splits, test_size=test, random_state=0)
    for s, (fit, held) in enumerate(outer.split(X, y, groups)):
        conformal = wrapper(model, alpha=max(ALPHAS), calibration_size=calibrate / (1 - test),
                            random_state=s).fit(X[fit], y[fit], groups=groups[fit])
        if regression:
            errors.append(float(np.mean(np.abs(conformal.predict(X[held]) - y[held]))))
        for a in ALPHAS:
            if regression:
                lower, upper = conformal.predict_interval(X[held], alpha=a).T
                covered, size = (lower <= y[held]) & (y[held] <= upper), upper - lower
            else:
                sets = conformal.predict_set(X[held], alpha=a)
                covered, size = sets[np.arange(len(held)), y[held]], sets.sum(axis=1)
            out[str(a)]["coverage"].append(float(np.mean(covered)))
            out[str(a)]["size"].append(float(np.mean(size)))
    if regression:
        out["mae"] = errors
    return out


def _features(songs, quick: bool) -> dict:
    """The front ends' outputs of one generated set, computed once."""
    from sklearn_songpop import make_songpop_pipeline

    waves = np.stack(songs.waveforms)
    default = make_songpop_pipeline("default", random_state=0)
    paper = make_songpop_pipeline("paper", random_state=0)
    musicnn = make_songpop_pipeline("musicnn", random_state=0, intervals__sr=22050,
                                    embedding__sr=22050)
    windows = default[0].fit_transform(waves)
    return {"windows": windows, "default": default[1].fit_transform(windows),
            "paper": paper[:-1].fit_transform(waves),
            "musicnn": musicnn[:2].fit_transform(waves)}


def _generated(quick: bool) -> list[dict]:
    """Out-of-fold probabilities of every model, raw and calibrated, and conformal sets."""
    from sklearn.base import clone
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import StratifiedGroupKFold

    from sklearn_songpop import ArtistCalibratedClassifier, make_baselines, make_songs
    from sklearn_songpop import make_songpop_pipeline as make
    from sklearn_songpop.metrics import calibration_scores

    runs = []
    for ds in DATA_SEEDS[:1] if quick else DATA_SEEDS:
        songs = make_songs(n_songs=120 if quick else N_SONGS,
                           n_artists=40 if quick else N_ARTISTS, duration=DURATION,
                           random_state=ds)
        y, groups = songs.y, songs.groups
        data = _features(songs, quick)
        splits = list(StratifiedGroupKFold(5, shuffle=True, random_state=ds).split(
            data["windows"], y, groups))
        logmel = make_baselines(random_state=0)["log-mel band statistics"]
        head = make("musicnn", random_state=0)[2:]
        nets = {f"default preset (seed {s})": (make("default", random_state=s)[-1], "default")
                for s in (NET_SEEDS[:1] if quick else NET_SEEDS)}
        nets["paper preset"] = (make("paper", random_state=0)[-1], "paper")
        if quick:
            for net, _ in nets.values():
                net.set_params(max_epochs=2)
        cheap = {"musicnn head": (head, "musicnn"), "log-mel baseline": (logmel, "windows"),
                 "majority class": (DummyClassifier(), "windows")}
        for name, (model, key) in {**nets, **cheap}.items():
            t0 = time.perf_counter()
            X = data[key]
            raw = _oof(model, X, y, splits)
            entry = {"ds": ds, "model": name, "raw": calibration_scores(y, raw, 1),
                     "cross_fitted": calibration_scores(y, _cross_fitted(raw, y, splits), 1),
                     "sets": _split_coverage(raw, y, groups, seed_base=100 * ds)}
            if name in NESTED or (name in cheap and name != "majority class"):
                nested = _oof(ArtistCalibratedClassifier(clone(model), random_state=0), X, y,
                              splits, groups)
                entry["nested"] = calibration_scores(y, nested, 1)
                entry["nested"]["ece_floor"] = _ece_floor(nested)
            if name in cheap and name != "majority class":
                entry["refit_sets"] = _refit_coverage(model, X, y, groups, False,
                                                      5 if quick else SPLITS, 0.25, 0.25)
            entry["seconds"] = time.perf_counter() - t0
            runs.append(entry)
            print(f"  generated data seed {ds}: {name} done ({entry['seconds']:.0f} s)",
                  flush=True)
        for name, (model, key) in {
                "log-mel ridge": (make_baselines(task="regression")["log-mel band statistics"],
                                  "windows"),
                "musicnn ridge": (make("musicnn", task="regression")[2:], "musicnn")}.items():
            runs.append({"ds": ds, "model": name, "intervals": _refit_coverage(
                model, data[key], np.asarray(songs.popularity, float), groups, True,
                5 if quick else SPLITS, 0.25, 0.25)})
    return runs


def _real(quick: bool) -> dict | None:
    """The soundtracks: raw and calibrated probabilities, and refitted conformal sets."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from benchmarks.bench_learning_curve import real_tracks
    from sklearn_songpop import ArtistCalibratedClassifier, make_baselines
    from sklearn_songpop import make_songpop_pipeline as make
    from sklearn_songpop.metrics import calibration_scores

    real = real_tracks()
    if real is None:
        return None
    paths, y, _ = real
    tracks = np.arange(len(y))
    musicnn = make("musicnn", random_state=0)
    default = make("default", random_state=0)
    models = {"musicnn head": (musicnn[2:], musicnn[:2].fit_transform(paths)),
              "log-mel baseline": (make_baselines(random_state=0)["log-mel band statistics"],
                                   default[0].fit_transform(paths))}
    splits = list(StratifiedKFold(5, shuffle=True, random_state=0).split(paths, y))
    out = {}
    for name, (model, X) in models.items():
        raw = _oof(model, X, y, splits)
        nested = _oof(ArtistCalibratedClassifier(clone(model), cv=3, random_state=0), X, y,
                      splits, tracks)
        out[name] = {"raw": calibration_scores(y, raw, 1),
                     "nested": calibration_scores(y, nested, 1),
                     "refit_sets": _refit_coverage(model, X, y, tracks, False,
                                                   10 if quick else REAL_SPLITS,
                                                   10 / 38, 9 / 38)}
    return out


def _mean_sd(values) -> str:
    values = np.asarray(values, float)
    return f"{values.mean():.3f} ± {values.std():.3f}"


def _pooled(runs, model, key, metric) -> list[float]:
    return [r[key][metric] for r in runs if r["model"] == model and key in r]


def _coverage_cells(entries) -> list[str]:
    cells = []
    for a in ALPHAS:
        cov = [c for e in entries for c in e[str(a)]["coverage"]]
        size = [c for e in entries for c in e[str(a)]["size"]]
        cells += [f"{np.mean(cov):.3f} (sd {np.std(cov):.3f})", f"{np.mean(size):.2f}"]
    return cells


def _ceiling(alpha: float, m: int) -> float:
    """The share of the calibration artists' songs the quantile covers: (1 - alpha)(m + 1)
    of m artists, so that the (m + 1)-th, the new one, is covered 1 - alpha of the time."""
    return min(1.0, (1 - alpha) * (m + 1) / m)


def _met(entries, m: int) -> bool:
    """Coverage from 1 - alpha - 0.03 up to the ceiling + 0.03, at every alpha."""
    return all(1 - a - 0.03 <= np.mean([c for e in entries for c in e[str(a)]["coverage"]])
               <= _ceiling(a, m) + 0.03 for a in ALPHAS)


def _expected(m: int) -> str:
    return " / ".join(f"{1 - a:.2f} to {_ceiling(a, m):.3f}" for a in ALPHAS)


def run(quick: bool = False) -> str:
    from sklearn_songpop.cli import steady_allocator

    steady_allocator()
    runs = _cached("generated", quick, _generated)
    real = _cached("real", quick, _real)
    classifiers = list(dict.fromkeys(r["model"] for r in runs if "raw" in r))
    rows = []
    for model in classifiers:
        row = [model]
        for key in ("raw", "cross_fitted", "nested"):
            ece, brier = _pooled(runs, model, key, "ece"), _pooled(runs, model, key, "brier")
            row += [_mean_sd(ece), _mean_sd(brier)] if ece else ["", ""]
        rows.append(row)
    default = NESTED[0]  # the target reads the shipped estimator, nested
    ece = np.mean(_pooled(runs, default, "nested", "ece"))
    ece_raw = np.mean(_pooled(runs, default, "raw", "ece"))
    brier = np.mean(_pooled(runs, default, "nested", "brier"))
    brier_raw = np.mean(_pooled(runs, default, "raw", "brier"))
    floor = np.mean(_pooled(runs, default, "nested", "ece_floor"))
    text = [
        "## Calibrated probabilities and conformal sets by artist", "",
        f"{N_SONGS if not quick else 120} generated songs, data seeds "
        f"{', '.join(str(r) for r in sorted({r['ds'] for r in runs}))}; "
        "StratifiedGroupKFold(5) by artist; pooled out-of-fold probabilities. ECE: expected "
        "calibration error over 10 bins of equal size. Mean ± sd over data seeds (and "
        "training seeds where named).", "",
        "### Calibration", "",
        table(["model", "ECE raw", "Brier raw", "ECE cross-fitted", "Brier cross-fitted",
               "ECE nested", "Brier nested"], rows), "",
        f"- the calibrated default's ECE ({default}, nested): {ece:.3f} (before "
        f"calibration {ece_raw:.3f}); a perfectly calibrated model with the same "
        f"probabilities would show {floor:.3f} on this many songs, from the binning alone; "
        f"target 0.05: {'met' if ece <= 0.05 else 'NOT met'}",
        f"- its Brier score: {brier:.4f} against {brier_raw:.4f} uncalibrated; target no "
        f"worse: {'met' if brier <= brier_raw + 1e-12 else 'NOT met'}", "",
        "### Conformal sets on held-out artists", "",
        f"From the out-of-fold scores: {SPLITS} random halvings of the artists per data "
        "set, one half calibrating, the other tested. Refitted: the shipped "
        "ConformalClassifier fitted on half the artists, calibrated on a quarter, tested "
        f"on a quarter, {SPLITS} splits per data set. Coverage: mean over splits (sd over "
        "splits).", ""]
    halves = (40 if quick else N_ARTISTS) // 2
    quarter = round((40 if quick else N_ARTISTS) * 0.25)
    header = ["model", "sets from", "calibration artists m", *[
        f"{k} alpha {a}" for a in ALPHAS for k in ("coverage", "mean set size")]]
    rows, all_met = [], True
    for model in classifiers:
        for key, label, m in (("sets", "out-of-fold scores", halves),
                              ("refit_sets", "refitted", quarter)):
            entries = [r[key] for r in runs if r["model"] == model and key in r]
            if entries:
                rows.append([model, label, m, *_coverage_cells(entries)])
                if model != "majority class":
                    all_met &= _met(entries, m)
    text += [table(header, rows), "",
             "Coverage a method with the guarantee should show, alpha "
             f"{' / '.join(str(a) for a in ALPHAS)}: with m = {halves}, {_expected(halves)}; "
             f"with m = {quarter}, {_expected(quarter)}. The upper end is the share of the "
             "calibration artists' songs that the quantile must cover, (1 - alpha)(m + 1)/m, "
             "for the guarantee to hold for a new artist.", "",
             "- coverage from 1 - alpha - 0.03 to that upper end + 0.03, for every model but "
             "the majority class (whose sets are its constant score's): "
             f"{'met' if all_met else 'NOT met'}", "",
             "### Conformal intervals for popularity numbers", "",
             f"The shipped ConformalRegressor, refitted as above (m = {quarter}); MAE: the "
             "plain regressor's mean absolute error on the test artists.", ""]
    rows, intervals_met = [], True
    for model in ("log-mel ridge", "musicnn ridge"):
        entries = [r["intervals"] for r in runs if r["model"] == model]
        mae = [v for e in entries for v in e["mae"]]
        rows.append([model, f"{np.mean(mae):.3f}", *_coverage_cells(entries)])
        intervals_met &= _met(entries, quarter)
    text += [table(["model", "MAE", *[f"{k} alpha {a}" for a in ALPHAS
                                      for k in ("coverage", "mean width")]], rows), "",
             f"- intervals, the same band: {'met' if intervals_met else 'NOT met'}", ""]
    if real is None:
        text += ["Real recordings not measured: the Debian packages could not be fetched."]
    else:
        rows, real_met = [], True
        for model, entry in real.items():
            rows.append([model, f"{entry['raw']['ece']:.3f}", f"{entry['nested']['ece']:.3f}",
                         f"{entry['raw']['brier']:.4f}", f"{entry['nested']['brier']:.4f}",
                         *_coverage_cells([entry["refit_sets"]])])
            real_met &= _met([entry["refit_sets"]], 10)
        text += ["### Real recordings (38 soundtrack tracks, each its own group)", "",
                 "Calibration: StratifiedKFold(5) out of fold, nested calibration with 3 "
                 f"folds. Conformal: {REAL_SPLITS if not quick else 10} random splits, 19 "
                 "tracks to fit, 10 to calibrate, 9 to test.", "",
                 table(["model", "ECE raw", "ECE calibrated", "Brier raw",
                        "Brier calibrated", *[f"{k} alpha {a}" for a in ALPHAS
                                              for k in ("coverage", "mean set size")]], rows),
                 "", f"- coverage with m = 10 tracks should lie from {_expected(10)}; from "
                 "1 - alpha - 0.03 to the upper end + 0.03: "
                 f"{'met' if real_met else 'NOT met'}"]
    if _READ_BACK:
        text += ["", "Read back from an earlier run of this version, with the seconds it "
                 f"took to compute: {', '.join(_READ_BACK)}."]
    return "\n".join(text)
