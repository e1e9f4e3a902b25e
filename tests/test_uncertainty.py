"""Calibrated probabilities and conformal sets and intervals, split by artist."""

import io

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_songpop import (
    ArtistCalibratedClassifier,
    ConformalClassifier,
    ConformalRegressor,
    make_songpop_pipeline,
    predict_table,
)
from sklearn_songpop.conformal import (
    conformal_quantile,
    cross_conformal_quantiles,
    min_calibration_groups,
)
from sklearn_songpop.metrics import expected_calibration_error
from tests.conftest import quick


def _artists(n_artists, songs_each, seed, task="regression", effect=1.0):
    """Songs whose artists shift their targets: songs of one artist are alike."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_artists), songs_each) + 1000 * seed
    shift = rng.normal(scale=effect, size=n_artists)[np.repeat(np.arange(n_artists),
                                                               songs_each)]
    X = rng.normal(size=(len(groups), 3)) + shift[:, None] * np.array([0.5, 0.0, 0.0])
    value = X[:, 0] + shift + rng.normal(size=len(groups))
    if task == "regression":
        return X, value, groups
    return X, (value > 1.0).astype(int), groups


# ------------------------------------------------------------------ the quantile
def test_the_quantile_of_ungrouped_scores_is_the_textbook_one():
    rng = np.random.default_rng(0)
    for n, alpha in ((19, 0.1), (50, 0.2), (200, 0.05)):
        scores = rng.random(n)
        k = int(np.ceil((n + 1) * (1 - alpha)))  # the k-th smallest
        assert conformal_quantile(scores, alpha) == np.sort(scores)[k - 1]


def test_each_artist_weighs_the_same_whatever_its_number_of_songs():
    rng = np.random.default_rng(1)
    scores = rng.random(30)
    groups = np.arange(30)
    # each artist's songs repeated a different number of times: the same quantile
    repeats = rng.integers(1, 6, size=30)
    many = np.repeat(scores, repeats)
    assert conformal_quantile(many, 0.2, np.repeat(groups, repeats)) == \
        conformal_quantile(scores, 0.2, groups)
    # ten artists, the most wrong of them with fifty songs: by artist, the ninth score
    # of ten; counted by song, that artist's songs would pull the quantile to the top
    scores = np.r_[np.arange(9) / 10, np.full(50, 0.9)]
    artists = np.r_[np.arange(9), np.full(50, 9)]
    assert conformal_quantile(scores, 0.2, artists) == 0.8
    assert conformal_quantile(scores, 0.2) == 0.9


def test_too_few_artists_give_an_infinite_quantile_and_a_clear_error():
    assert min_calibration_groups(0.1) == 9
    assert conformal_quantile(np.arange(8.0), 0.1) == np.inf
    assert np.isfinite(conformal_quantile(np.arange(9.0), 0.1))
    X, y, groups = _artists(12, 4, seed=0)
    with pytest.raises(ValueError, match="alpha=0.1 needs at least 9 calibration artists, "
                                         "and this model was calibrated on 3"):
        ConformalRegressor(Ridge(), random_state=0).fit(X, y, groups=groups)
    model = ConformalRegressor(Ridge(), alpha=0.3, random_state=0).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="alpha=0.05 needs at least 19"):
        model.predict_interval(X, alpha=0.05)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.1, True, "0.1"])
def test_an_alpha_out_of_range_is_refused(alpha):
    X, y, groups = _artists(40, 3, seed=0)
    model = ConformalRegressor(Ridge(), alpha=0.2, random_state=0).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="alpha must be a number between 0 and 1"):
        model.predict_interval(X, alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        ConformalRegressor(Ridge(), alpha=alpha).fit(X, y, groups=groups)


# ------------------------------------------------------------------ coverage
@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_intervals_and_sets_cover_new_artists_as_promised(alpha):
    """A large simple problem where the guarantee must hold: artists shift their songs, so
    songs are not exchangeable but artists are. Averaged over 20 draws of calibration
    artists, coverage on new artists lies within 0.03 of 1 - alpha.
    """
    coverage = {"regression": [], "classification": []}
    for seed in range(20):
        for task, wrapper, base in (("regression", ConformalRegressor, Ridge()),
                                    ("classification", ConformalClassifier,
                                     LogisticRegression())):
            X, y, groups = _artists(160, 5, seed, task, effect=1.5)
            Xt, yt, _ = _artists(200, 5, seed + 100, task, effect=1.5)
            model = wrapper(base, alpha=alpha, random_state=seed).fit(X, y, groups=groups)
            if task == "regression":
                lower, upper = model.predict_interval(Xt).T
                coverage[task].append(np.mean((lower <= yt) & (yt <= upper)))
            else:
                sets = model.predict_set(Xt)
                coverage[task].append(np.mean(sets[np.arange(len(yt)), yt]))
    assert abs(np.mean(coverage["regression"]) - (1 - alpha)) <= 0.03, coverage
    assert abs(np.mean(coverage["classification"]) - (1 - alpha)) <= 0.03, coverage


def test_cross_conformal_quantiles_leave_each_fold_out():
    scores = np.r_[np.zeros(10), np.ones(10)]
    splits = [(np.arange(10, 20), np.arange(10)), (np.arange(10), np.arange(10, 20))]
    q = cross_conformal_quantiles(scores, splits, alpha=0.2)
    # the first fold is calibrated on the second's scores only, and the other way round
    assert np.all(q[:10] == 1.0) and np.all(q[10:] == 0.0)


# ------------------------------------------------------------------ calibration
def test_calibration_by_artist_brings_shifted_probabilities_to_frequencies():
    """Balanced class weights shift probabilities towards the rarer class; the calibrated
    model's expected calibration error on new artists is far smaller, its Brier no worse."""
    X, y, groups = _artists(120, 5, seed=0, task="classification")
    Xt, yt, _ = _artists(200, 5, seed=1, task="classification")
    assert 0.1 < y.mean() < 0.35  # imbalanced, as hits are
    raw = LogisticRegression(class_weight="balanced").fit(X, y).predict_proba(Xt)[:, 1]
    model = ArtistCalibratedClassifier(LogisticRegression(class_weight="balanced"),
                                       random_state=0).fit(X, y, groups=groups)
    calibrated = model.predict_proba(Xt)[:, 1]
    ece_raw, ece = expected_calibration_error(yt, raw), expected_calibration_error(yt,
                                                                                   calibrated)
    assert ece_raw > 0.1 and ece < 0.05 and ece < ece_raw / 3, (ece_raw, ece)
    assert np.mean((calibrated - yt) ** 2) <= np.mean((raw - yt) ** 2)
    assert model.calibrated_on_ == {"method": "sigmoid", "n_songs": 600, "n_groups": 120,
                                    "cv": "StratifiedGroupKFold(5) by artist"}


def test_calibration_folds_keep_each_artist_whole():
    X, y, groups = _artists(60, 4, seed=2, task="classification")
    model = ArtistCalibratedClassifier(random_state=0).fit(X, y, groups=groups)
    folds = model.calibrated_.cv
    assert len(folds) == 5
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(np.unique(y[test])) == 2  # both classes in every fold
    assert sorted(np.concatenate([t for _, t in folds])) == list(range(len(y)))


def test_calibration_errors_name_what_is_short():
    X, y, groups = _artists(60, 4, seed=2, task="classification")
    rare = np.unique(groups[y == 1])
    keep = ~np.isin(groups, rare[3:]) | (y == 0)
    with pytest.raises(ValueError, match="cv=5 folds by artist need at least 5 artists"):
        ArtistCalibratedClassifier().fit(X[keep], y[keep], groups=groups[keep])
    with pytest.raises(ValueError, match="calibration needs two classes"):
        ArtistCalibratedClassifier().fit(X, np.zeros(len(y)), groups=groups)
    with pytest.raises(ValueError, match="'method' parameter"):
        ArtistCalibratedClassifier(method="beta").fit(X, y, groups=groups)


# ------------------------------------------------------------------ scikit-learn
def _expected_failures(estimator):
    if isinstance(estimator, ConformalRegressor):
        # the check sets alpha=0.01 on every regressor that has an alpha, as for ridge
        # penalties; a 1% error rate needs 99 calibration groups, and fit says so
        return {"check_regressors_train": "alpha=0.01 needs 99 calibration groups; the "
                "check's 200 samples hold out 50"}
    return {}


@parametrize_with_checks([ArtistCalibratedClassifier(cv=2), ConformalClassifier(alpha=0.5),
                          ConformalRegressor(alpha=0.5)],
                         expected_failed_checks=_expected_failures)
def test_estimator_checks(estimator, check):
    check(estimator)


def test_groups_reach_the_models_through_metadata_routing_in_a_grid_search():
    X, y, groups = _artists(80, 4, seed=3, task="classification")
    with sklearn.config_context(enable_metadata_routing=True):
        model = ConformalClassifier(LogisticRegression(), alpha=0.2,
                                    random_state=0).set_fit_request(groups=True)
        search = GridSearchCV(model, {"estimator__C": [0.1, 1.0]}, cv=GroupKFold(3),
                              scoring="roc_auc").fit(X, y, groups=groups)
    best = search.best_estimator_
    # the held-out calibration songs are whole artists, not single songs
    held = np.isin(groups, best.calibration_groups_)
    assert held.sum() == len(best.calibration_scores_) == 4 * best.n_calibration_groups_
    assert best.n_calibration_groups_ == 20


def test_wrapped_models_clone_and_survive_joblib():
    X, y, groups = _artists(80, 4, seed=4, task="classification")
    model = ConformalClassifier(ArtistCalibratedClassifier(random_state=0), alpha=0.2,
                                random_state=0)
    assert clone(model).get_params()["estimator__method"] == "sigmoid"
    model.fit(X, y, groups=groups)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    again = joblib.load(buffer)
    assert np.array_equal(again.predict_set(X), model.predict_set(X))
    assert np.allclose(again.predict_proba(X), model.predict_proba(X))
    # the inner calibration got the training artists, not one group per song
    assert model.estimator_.calibrated_on_["n_groups"] == 60


def test_a_frozen_model_is_calibrated_on_every_song_given():
    X, y, groups = _artists(80, 4, seed=5)
    fitted = Ridge().fit(X, y)
    model = ConformalRegressor(FrozenEstimator(fitted), alpha=0.2).fit(X, y, groups=groups)
    assert model.n_calibration_groups_ == 80 and len(model.calibration_scores_) == 320
    assert np.allclose(model.predict(X), fitted.predict(X))


# ------------------------------------------------------------------ the pipeline
@pytest.mark.slow
def test_a_calibrated_conformal_network_pipeline_predicts_a_table(small_songs):
    songs = np.stack(small_songs.waveforms)
    pipe = make_songpop_pipeline(random_state=0, calibrate=True, conformal=0.4,
                                 **quick(intervals__duration=2.0))
    pipe[-1].set_params(estimator__cv=2, calibration_size=0.5)
    pipe.fit(songs, small_songs.y, classifier__groups=small_songs.groups)
    table = predict_table(pipe, songs[:5], alpha=0.4, intervals=True)
    assert list(table.columns[:3]) == ["song", "p_1", "class"]
    assert set(table["set"]) <= {"", "0", "1", "0|1"}
    assert {"novelty", "beyond_training", "interval_0", "problem"} <= set(table.columns)
    assert np.allclose(table["p_1"], pipe.predict_proba(songs[:5])[:, 1])
    with pytest.raises(ValueError, match="alpha=0.1 needs at least 9 calibration artists"):
        predict_table(pipe, songs[:2], alpha=0.1)


# ------------------------------------------------------------------ evaluate
def test_evaluate_reports_calibration_and_cross_conformal_coverage():
    from sklearn_songpop import evaluate

    X, y, groups = _artists(150, 4, seed=6, task="classification")
    result = evaluate(LogisticRegression(), X, y, groups=groups, cv=5, baselines=False)
    for alpha in (0.1, 0.2):
        entry = result.conformal["model"][str(alpha)]
        assert abs(entry["coverage"] - (1 - alpha)) <= 0.04, entry
        assert 0.5 <= entry["mean_set_size"] <= 2.0
    raw = result.calibration["model"]
    assert raw["ece"] == pytest.approx(expected_calibration_error(y, result.proba["model"]))
    # a calibrated model in evaluate gets the training artists: its folds keep them whole
    calibrated = evaluate(ArtistCalibratedClassifier(random_state=0), X, y, groups=groups,
                          cv=5, baselines=False)
    assert calibrated.estimators["model"].calibrated_on_["n_groups"] == 120
    Xr, yr, groups = _artists(150, 4, seed=7)
    result = evaluate(Ridge(), Xr, yr, groups=groups, cv=5, baselines=False)
    entry = result.conformal["model"]["0.2"]
    assert abs(entry["coverage"] - 0.8) <= 0.04 and entry["mean_width"] > 0
