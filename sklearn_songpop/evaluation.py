"""Honest evaluation: song-level cross-validation of a model beside the baselines.

The seed paper reported accuracy alone, which equalled the share of the
majority class. Here every model is cross-validated beside the baselines of
:mod:`~sklearn_songpop.baselines` and scored by :mod:`~sklearn_songpop.metrics`
(balanced accuracy, ROC AUC, average precision, F1 and the confusion matrix; for
a number, Spearman's rho, R^2, the mean absolute error and two "pick the hits"
scores). A classifier's probabilities are also scored for calibration (Brier
score, expected calibration error), and every model's out-of-fold errors give
cross-conformal sets or intervals, whose coverage is reported. Given release
years, the same models are also scored forward in time
(:class:`~sklearn_songpop.ReleaseYearSplit`). The results, as text and JSON,
are :mod:`~sklearn_songpop.results`'.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import has_fit_parameter

from sklearn_songpop.baselines import make_baselines
from sklearn_songpop.conformal import cross_conformal_quantiles
from sklearn_songpop.intervals import IntervalSampler
from sklearn_songpop.metrics import (
    METRICS,
    REGRESSION_METRICS,
    calibration_scores,
    classification_scores,
    regression_scores,
)
from sklearn_songpop.model_selection import ReleaseYearSplit
from sklearn_songpop.results import EvaluationResult, RegressionResult

__all__ = ["evaluate", "leak_comparison"]


def evaluate(
    estimator,
    X,
    y,
    groups=None,
    cv=None,
    baselines: bool | dict = True,
    pos_label=None,
    name: str = "model",
    verbose: int = 0,
    times=None,
    n_time_splits: int = 3,
    alphas=(0.1, 0.2),
) -> EvaluationResult | RegressionResult:
    """Cross-validate a model and the baselines on whole songs.

    When ``estimator`` is a pipeline that starts with an
    :class:`~sklearn_songpop.intervals.IntervalSampler`, the songs are decoded
    once and every model is cross-validated on the intervals. The sampler
    learns nothing in ``fit``, so this leaks nothing between folds.

    Parameters
    ----------
    estimator : classifier or regressor
        Typically :func:`~sklearn_songpop.pipeline.make_songpop_pipeline`. A
        regressor, or a continuous ``y``, makes it a regression.
    X : sequence of songs
        Paths or waveforms, as the estimator takes.
    y : array-like of shape (n_songs,)
        Labels (binary), or numbers.
    groups : array-like of shape (n_songs,), optional
        Artists (or any groups) that must not cross folds.
    cv : int, splitter or None, default=None
        None is 5. An integer ``n``: with ``groups``, ``n``-fold
        :class:`~sklearn.model_selection.StratifiedGroupKFold` (shuffled, seed 0),
        which keeps both classes in every test fold where it can
        (:class:`~sklearn.model_selection.GroupKFold` for numbers); without,
        shuffled ``n``-fold :class:`~sklearn.model_selection.StratifiedKFold`
        (:class:`~sklearn.model_selection.KFold` for numbers). A test fold left
        with one class is named in a warning.
    baselines : bool or dict, default=True
        True adds :func:`make_baselines` for the task; a dict names other
        models to compare.
    pos_label : object, optional
        Classification: the class whose probability is scored; default: the
        last of the sorted classes (1 for 0/1 labels, True for booleans).
    name : str, default="model"
        What to call the estimator in the report.
    verbose : int, default=0
        Progress on standard error when > 0: a line per fold and model.
    times : array-like of shape (n_songs,), optional
        Release years (or anything that sorts in time). The same models are
        then also scored with :class:`~sklearn_songpop.ReleaseYearSplit`, in
        the result's ``forward``.
    n_time_splits : int, default=3
        Test years of the forward-in-time evaluation.
    alphas : sequence of float, default=(0.1, 0.2)
        Error rates of the cross-conformal sets (classification) or intervals
        (regression): each fold's songs get the set built from the other
        folds' out-of-fold scores, artists weighing the same
        (:func:`~sklearn_songpop.conformal.cross_conformal_quantiles`); the
        result's ``conformal`` holds their coverage and mean set size or
        interval width.

    Returns
    -------
    EvaluationResult or RegressionResult

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import make_songs
    >>> from sklearn_songpop.intervals import IntervalSampler
    >>> songs = make_songs(n_songs=30, n_artists=5, duration=4.0, random_state=0)
    >>> X = IntervalSampler(random_state=0).fit_transform(np.stack(songs.waveforms))
    >>> result = evaluate(make_baselines()["log-mel band statistics"], X, songs.y,
    ...                   groups=songs.groups, cv=3, baselines=False, name="baseline")
    >>> sorted(result.scores["baseline"])
    ['accuracy', 'average_precision', 'balanced_accuracy', 'f1', 'roc_auc']
    >>> int(np.asarray(result.confusion["baseline"]).sum())
    30
    >>> ridge = make_baselines(task="regression")["log-mel band statistics"]
    >>> result = evaluate(ridge, X, songs.popularity, groups=songs.groups, cv=3,
    ...                   baselines=False, name="ridge", times=songs.year, n_time_splits=2)
    >>> sorted(result.scores["ridge"])
    ['mae', 'r2', 'spearman', 'top10_ndcg', 'top10_precision']
    >>> result.forward.cv
    'ReleaseYearSplit, 2 folds'
    """
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} songs but y has {len(y)} labels")
    regression = is_regressor(estimator) or type_of_target(y) == "continuous"
    if regression:
        y = y.astype(float)
        classes = None
    else:
        classes = np.unique(y)
        if len(classes) != 2:
            raise ValueError("evaluate scores binary labels or numbers; y has classes "
                             f"{classes.tolist()}")
        pos_label = classes[-1] if pos_label is None else pos_label
        pos_label = pos_label.item() if isinstance(pos_label, np.generic) else pos_label
        if pos_label not in classes:
            raise ValueError(
                f"pos_label {pos_label!r} is not one of the classes {classes.tolist()}")
    if times is not None and len(times) != len(y):
        raise ValueError(f"times has {len(times)} values but there are {len(y)} songs")
    if cv is None:
        cv = 5
    if isinstance(cv, int):
        cv = (GroupKFold(cv) if groups is not None and regression
              else StratifiedGroupKFold(cv, shuffle=True, random_state=0)
              if groups is not None
              else KFold(cv, shuffle=True, random_state=0) if regression
              else StratifiedKFold(cv, shuffle=True, random_state=0))
    cv = check_cv(cv, y, classifier=not regression)
    if isinstance(estimator, Pipeline) and isinstance(estimator.steps[0][1], IntervalSampler):
        if verbose:
            print(f"decoding intervals of {len(X)} songs ...", file=sys.stderr, flush=True)
        X = clone(estimator.steps[0][1]).fit_transform(X)
        estimator = estimator[1:]
    models = {name: estimator}
    if baselines is True:
        models.update(make_baselines(None, task="regression" if regression
                                     else "classification"))
    elif isinstance(baselines, dict):
        models.update(baselines)
    for model_name, model in models.items():
        if regression and not is_regressor(model):
            raise TypeError(f"{model_name!r} is not a regressor, and y holds numbers")
        if not regression and not is_classifier(model):
            raise TypeError(f"{model_name!r} is not a classifier")
    run = _regression_run if regression else _classification_run
    cv_name = type(cv).__name__ + (" by group" if groups is not None else "")
    with warnings.catch_warnings():
        # said below in our words, with the folds it concerns
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        splits = list(cv.split(np.zeros(len(y)), y, groups))
    if not regression:
        _warn_one_class(splits, y, cv)
    result = run(models, X, y, splits, cv_name, verbose, classes=classes, pos_label=pos_label,
                 groups=groups)
    result.conformal = _conformal(result, splits, groups, alphas)
    if times is not None:
        forward = ReleaseYearSplit(n_time_splits)
        result.forward = run(models, X, y, list(forward.split(np.zeros(len(y)), groups=times)),
                             "ReleaseYearSplit", verbose, classes=classes, pos_label=pos_label,
                             groups=groups)
    return result


def _warn_one_class(splits, y, cv) -> None:
    """One warning naming the test folds that hold a single class."""
    alone = [str(i + 1) for i, (_, test) in enumerate(splits) if len(np.unique(y[test])) < 2]
    if alone:
        warnings.warn(
            f"test fold{'s' if len(alone) > 1 else ''} {', '.join(alone)} of "
            f"{len(splits)} ({type(cv).__name__}) hold{'' if len(alone) > 1 else 's'} songs "
            "of one class only: there the ROC AUC and average precision are undefined and "
            "left out of the mean over folds; fewer folds, or more artists of the rarer "
            "class, avoid it", UserWarning, stacklevel=3)


def _conformal(result, splits, groups, alphas) -> dict:
    """``{model: {alpha: {"coverage": ..., "mean_set_size" or "mean_width": ...}}}`` of the
    cross-conformal sets or intervals of each model's out-of-fold predictions."""
    out = {}
    y = result.y
    regression = isinstance(result, RegressionResult)
    outputs = result.pred if regression else result.proba
    for name, values in outputs.items():
        tested = ~np.isnan(values)
        if regression:
            scores = np.abs(y - values)
        else:  # 1 - p(true class); ``values`` is p(positive class)
            positive = y == result.pos_label
            scores = np.where(positive, 1.0 - values, values)
        out[name] = {}
        for alpha in alphas:
            q = cross_conformal_quantiles(scores, splits, alpha, groups)[tested]
            covered = scores[tested] <= q
            if regression:
                size = {"mean_width": float(np.mean(2 * q))}
            else:  # a class is in the set when its own score is within q
                p = values[tested]
                size = {"mean_set_size": float(np.mean((1.0 - p <= q).astype(int)
                                                       + (p <= q).astype(int)))}
            out[name][str(alpha)] = {"coverage": float(np.mean(covered)), **size}
    return out


def leak_comparison(result: EvaluationResult, X, y, sampler: IntervalSampler | None = None,
                    random_state=None) -> dict:
    """The log-mel baseline by artist (from ``result``) beside the same baseline shuffled.

    Parameters
    ----------
    result : EvaluationResult
        From :func:`evaluate` with groups and the baselines; its log-mel
        baseline scores are the "by artist" row.
    X, y
        The songs and labels ``result`` was computed on.
    sampler : IntervalSampler or None, default=None
        The sampler, when ``X`` holds songs rather than intervals.
    random_state : int or None, default=None
        Seeds the shuffled split and the baseline.

    Returns
    -------
    dict
        ``{split: {"balanced_accuracy": ..., "roc_auc": ...}}`` for the split
        by artist and the shuffled one (the same number of folds).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import IntervalSampler, evaluate, make_songs
    >>> songs = make_songs(n_songs=30, n_artists=6, duration=4.0, random_state=0)
    >>> X = IntervalSampler(random_state=0).fit_transform(np.stack(songs.waveforms))
    >>> base = make_baselines(random_state=0)["log-mel band statistics"]
    >>> result = evaluate(base, X, songs.y, groups=songs.groups, cv=3)
    >>> list(leak_comparison(result, X, songs.y, random_state=0))
    ['by artist (StratifiedGroupKFold by group, 3 folds)', 'shuffled (StratifiedKFold, 3 folds)']
    """
    name = "log-mel band statistics"
    if name not in result.scores:
        raise ValueError("leak_comparison needs a result computed with the baselines")
    n_splits = len(next(iter(result.fold_scores[name].values())))
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    mixed = evaluate(make_baselines(sampler, random_state)[name], X, y, cv=cv,
                     baselines=False, name=name)
    keep = ("balanced_accuracy", "roc_auc")
    return {f"by artist ({result.cv})": {m: result.scores[name][m] for m in keep},
            f"shuffled ({mixed.cv})": {m: mixed.scores[name][m] for m in keep}}


def _group_params(model, groups) -> dict:
    """``groups`` as the fit parameter of a model (or a pipeline's last step) that takes
    them, such as a calibrated or conformal one: its inner split then keeps artists whole."""
    if groups is None:
        return {}
    if isinstance(model, Pipeline):
        name, last = model.steps[-1]
        return {f"{name}__groups": groups} if has_fit_parameter(last, "groups") else {}
    return {"groups": groups} if has_fit_parameter(model, "groups") else {}


def _out_of_fold(models: dict, X, y, splits, verbose, output, groups=None):
    """For each model: out-of-fold outputs (NaN for untested songs), fit time, last model."""
    for name, model in models.items():
        out, t0 = None, time.perf_counter()
        for i, (train, test) in enumerate(splits):
            if verbose:
                print(f"{name}: fold {i + 1}/{len(splits)}", file=sys.stderr, flush=True)
            extra = _group_params(model, None if groups is None else np.asarray(groups)[train])
            m = clone(model).fit(_take(X, train), y[train], **extra)
            o = output(m, _take(X, test))
            if out is None:
                out = np.full((len(y), *o.shape[1:]), np.nan)
            out[test] = o
        yield name, out, time.perf_counter() - t0, m


def _regression_run(models, X, y, splits, cv_name, verbose, groups=None,
                    **_) -> RegressionResult:
    scores, fold_scores, pred, fit_time, fitted = {}, {}, {}, {}, {}
    for name, out, seconds, last in _out_of_fold(
            models, X, y, splits, verbose, lambda m, Xt: np.asarray(m.predict(Xt), float),
            groups):
        per_fold = {m: [] for m in REGRESSION_METRICS}
        for _, test in splits:
            for key, val in regression_scores(y[test], out[test]).items():
                per_fold[key].append(val)
        scores[name] = {m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
                        for m, v in per_fold.items()}
        fold_scores[name], pred[name], fit_time[name], fitted[name] = (
            per_fold, out, seconds, last)
    return RegressionResult(scores=scores, fold_scores=fold_scores, pred=pred, y=y,
                            cv=f"{cv_name}, {len(splits)} folds", fit_time=fit_time,
                            estimators=fitted)


def _classification_run(models, X, y, splits, cv_name, verbose, *, classes,
                        pos_label, groups=None) -> EvaluationResult:
    def proba_by_class(m, Xt):  # columns in the order of ``classes``
        p = m.predict_proba(Xt)
        out = np.zeros((len(p), len(classes)))
        for j, c in enumerate(m.classes_):
            out[:, list(classes).index(c)] = p[:, j]
        return out

    pos = list(classes).index(pos_label)
    scores, fold_scores, confusion, proba, fit_time, fitted = {}, {}, {}, {}, {}, {}
    calibration = {}
    for name, out, seconds, last in _out_of_fold(models, X, y, splits, verbose,
                                                 proba_by_class, groups):
        pred = classes[np.nan_to_num(out).argmax(axis=1)]
        per_fold = {m: [] for m in METRICS}
        for _, test in splits:
            fold = classification_scores(y[test], out[test, pos], pred[test], pos_label)
            for key, val in fold.items():
                per_fold[key].append(val)
        tested = ~np.isnan(out[:, pos])
        scores[name] = classification_scores(y[tested], out[tested, pos], pred[tested], pos_label)
        fold_scores[name], fit_time[name], fitted[name] = per_fold, seconds, last
        confusion[name] = confusion_matrix(y[tested], pred[tested], labels=classes)
        calibration[name] = calibration_scores(y[tested], out[tested, pos], pos_label)
        proba[name] = out[:, pos]
    return EvaluationResult(
        scores=scores, fold_scores=fold_scores, confusion=confusion, proba=proba, y=y,
        classes=classes.tolist(), pos_label=pos_label, cv=f"{cv_name}, {len(splits)} folds",
        fit_time=fit_time, estimators=fitted, calibration=calibration,
    )


def _take(X, idx):
    if isinstance(X, np.ndarray):
        return X[idx]
    return [X[i] for i in idx]
