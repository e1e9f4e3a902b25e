"""Conformal prediction by artist: label sets and intervals with a stated coverage.

A conformal model holds back the songs of some artists, scores how wrong its
fitted model is on each of them (one minus the probability of the true class;
the absolute error of a number) and keeps these scores. For a new song it
returns every label (or every number) whose score would lie within the
``1 - alpha`` quantile of the kept ones: a set of labels, or an interval.

Songs of one artist are alike, so they are not exchangeable with each other,
but the artists are: the quantile gives each calibration artist the same
weight, whatever its number of songs (the "pooled CDF" of Dunn, Wasserman and
Ramdas, *Distribution-free prediction sets for two-layer hierarchical models*,
JASA 2023). Why that covers a song of a new artist: had the test artist's own
scores been pooled in too, the quantile would be symmetric in all ``m + 1``
artists, and the expected share of the test artist's songs under it at least
``1 - alpha``; putting the test artist's weight at infinity instead can only
raise the quantile. So the coverage for a song of an artist exchangeable with
the calibration artists is at least ``1 - alpha``, on average over the choice
of calibration artists; with few of them it varies from one draw to the next.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils import _safe_indexing, get_tags, indexable
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, has_fit_parameter

__all__ = ["ConformalClassifier", "ConformalRegressor", "conformal_quantile",
           "cross_conformal_quantiles", "min_calibration_groups"]


def min_calibration_groups(alpha: float) -> int:
    """The fewest calibration artists that give a finite quantile at level ``1 - alpha``.

    With ``m`` artists the largest level conformal prediction can certify is
    ``m / (m + 1)``; below that every set holds every label.

    Parameters
    ----------
    alpha : float
        The error rate, in (0, 1).

    Returns
    -------
    int

    Examples
    --------
    >>> min_calibration_groups(0.1), min_calibration_groups(0.2)
    (9, 4)
    """
    _check_alpha(alpha)
    return math.ceil((1 - alpha) / alpha - 1e-9)


def conformal_quantile(scores, alpha: float, groups=None) -> float:
    """The conformal quantile of calibration scores, each artist weighing the same.

    Parameters
    ----------
    scores : array-like of shape (n_songs,)
        Nonconformity scores of the calibration songs (larger: more wrong).
    alpha : float
        The error rate, in (0, 1): sets or intervals built with the quantile
        cover a new artist's song with probability at least ``1 - alpha``.
    groups : array-like of shape (n_songs,), optional
        The songs' artists; None makes each song its own artist, which gives
        the usual split-conformal quantile (the ``ceil((n + 1)(1 - alpha))``-th
        smallest score).

    Returns
    -------
    float
        ``inf`` when there are too few artists for the level
        (:func:`min_calibration_groups`).

    Examples
    --------
    >>> conformal_quantile([0.1, 0.2, 0.3, 0.4], alpha=0.2)
    0.4
    >>> conformal_quantile(np.arange(1.0, 20.0), alpha=0.1)
    18.0
    >>> conformal_quantile([1.0, 2.0, 3.0], alpha=0.1)
    inf
    """
    _check_alpha(alpha)
    scores = np.asarray(scores, float)
    groups = np.arange(len(scores)) if groups is None else np.asarray(groups)
    if scores.ndim != 1 or groups.shape != scores.shape:
        raise ValueError(f"scores and groups must be two vectors of one length; got shapes "
                         f"{scores.shape} and {groups.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("the calibration scores hold NaN or infinite values")
    _, index, counts = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.argsort(scores, kind="stable")
    weight = np.cumsum(1.0 / counts[index[order]])
    need = (1 - alpha) * (len(counts) + 1) - 1e-9
    reached = np.flatnonzero(weight >= need)
    return float(scores[order[reached[0]]]) if len(reached) else float("inf")


def cross_conformal_quantiles(scores, splits, alpha: float, groups=None) -> np.ndarray:
    """For each test fold, the conformal quantile of the out-of-fold scores of the others.

    Out-of-fold predictions of a cross-validation, read as a cross-conformal
    estimate: each song's set or interval is built from the scores of the songs
    of the other folds, so that its coverage, measured over all songs,
    estimates what a split-conformal model (:class:`ConformalClassifier`)
    would cover on new artists when the folds keep artists whole. It is an
    estimate, not a guarantee: the other folds' scores come from models that
    trained on this fold's songs.

    Parameters
    ----------
    scores : array-like of shape (n_songs,)
        Each song's nonconformity score (NaN for a song no fold tested).
    splits : list of (train, test) index arrays
    alpha : float
    groups : array-like of shape (n_songs,), optional
        Artists, each weighing the same in the quantile.

    Returns
    -------
    ndarray of shape (n_songs,)
        The quantile that applies to each song (NaN where untested, ``inf``
        where the other folds hold too few artists for the level).

    Examples
    --------
    >>> splits = [(np.arange(10, 20), np.arange(10)), (np.arange(10), np.arange(10, 20))]
    >>> q = cross_conformal_quantiles(np.linspace(0, 1, 20), splits, alpha=0.2)
    >>> float(q[0]), float(q[-1])
    (1.0, 0.4210526315789474)
    """
    scores = np.asarray(scores, float)
    groups = np.arange(len(scores)) if groups is None else np.asarray(groups)
    out = np.full(len(scores), np.nan)
    tested = ~np.isnan(scores)
    for _, test in splits:
        others = tested.copy()
        others[test] = False
        out[test] = conformal_quantile(scores[others], alpha, groups[others])
    out[~tested] = np.nan
    return out


def _check_alpha(alpha) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number between 0 and 1 (exclusive), got {alpha!r}")


class _Conformal(MetaEstimatorMixin, BaseEstimator):
    """Split conformal prediction by group; subclasses say how wrong a prediction is."""

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "calibration_size": [Interval(Real, 0, 1, closed="neither"),
                             Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, alpha: float = 0.1, calibration_size: float = 0.25,
                 random_state=None):
        self.estimator = estimator
        self.alpha = alpha
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        """Fit the estimator on some artists and score it on the others.

        Parameters
        ----------
        X : sequence of songs
            What the estimator takes (paths, waveforms, intervals).
        y : array-like of shape (n_songs,)
            Labels or numbers.
        groups : array-like of shape (n_songs,), optional
            Artists. A share ``calibration_size`` of them is held out to
            calibrate; None treats every song as its own artist, which holds
            for new songs of the training artists but not for new artists.
            When the estimator's ``fit`` takes ``groups``, it gets the
            training songs'. A :class:`~sklearn.frozen.FrozenEstimator` is
            not fitted: every song given calibrates it.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = indexable(X, y)
        y = self._check_y(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"groups has {len(groups)} values but there are {len(y)} songs")
        estimator = self._default() if self.estimator is None else self.estimator
        if isinstance(estimator, FrozenEstimator):
            calibrate = np.arange(len(y))
            self.estimator_ = estimator
        else:
            n_groups = len(np.unique(groups))
            if n_groups < 2:
                raise ValueError("conformal prediction needs songs of at least two artists "
                                 "(groups), some to fit on and others to calibrate; got "
                                 f"{n_groups} artist in {len(y)} sample(s)")
            split = GroupShuffleSplit(n_splits=1, test_size=self.calibration_size,
                                      random_state=self.random_state)
            train, calibrate = next(split.split(np.zeros(len(y)), y, groups))
            extra = ({"groups": groups[train]} if has_fit_parameter(estimator, "groups")
                     else {})
            self.estimator_ = clone(estimator).fit(_safe_indexing(X, train), y[train], **extra)
        self._check_targets(y[calibrate])
        self.calibration_scores_ = self._scores(_safe_indexing(X, calibrate), y[calibrate])
        self.calibration_groups_ = groups[calibrate]
        self.n_calibration_groups_ = len(np.unique(self.calibration_groups_))
        self._quantile(self.alpha)  # too few artists for ``alpha`` is an error now
        return self

    def _quantile(self, alpha) -> float:
        """The quantile at ``alpha`` (None: the model's), or an error naming what is short."""
        check_is_fitted(self, "calibration_scores_")
        alpha = self.alpha if alpha is None else alpha
        _check_alpha(alpha)
        need = min_calibration_groups(alpha)
        if self.n_calibration_groups_ < need:
            raise ValueError(
                f"alpha={alpha} needs at least {need} calibration artists, and this model was "
                f"calibrated on {self.n_calibration_groups_}: give more artists, a larger "
                "calibration_size, or a larger alpha")
        return conformal_quantile(self.calibration_scores_, alpha, self.calibration_groups_)

    def predict(self, X):
        """The fitted estimator's predictions: classes, or numbers.

        Parameters
        ----------
        X : sequence of songs

        Returns
        -------
        ndarray of shape (n_songs,)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def _check_targets(self, y) -> None:
        """Nothing to check by default."""

    def _check_y(self, y):
        return column_or_1d(y, warn=True)

    @property
    def n_features_in_(self):
        """The fitted model's number of features, where it has one."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self._default() if self.estimator is None else self.estimator
        tags.input_tags.sparse = get_tags(inner).input_tags.sparse
        return tags


class ConformalClassifier(ClassifierMixin, _Conformal):
    """A classifier with prediction sets that cover a new artist's label at a set level.

    The sets are those of the LAC score (Sadinle, Lei and Wasserman, *Least
    ambiguous set-valued classifiers with bounded error levels*, JASA 2019):
    every class whose probability is at least ``1 - q``, ``q`` being the
    conformal quantile of the calibration songs' ``1 - p(true class)``. With
    two classes a set is one label, both (the model cannot tell at this
    level) or none (no label is likely enough). ``predict`` and
    ``predict_proba`` are the fitted estimator's.

    Parameters
    ----------
    estimator : classifier, default=None
        With ``predict_proba``; None is a logistic regression. A
        :class:`~sklearn.frozen.FrozenEstimator` around a fitted model is
        calibrated on all the songs ``fit`` gets.
    alpha : float, default=0.1
        The error rate of :meth:`predict_set`: the sets miss a new artist's
        label in at most this share of songs, on average.
    calibration_size : float or int, default=0.25
        The share (or number) of artists held out to calibrate.
    random_state : int, RandomState or None, default=None
        Which artists are held out.

    Attributes
    ----------
    estimator_ : classifier
        Fitted on the other artists.
    classes_ : ndarray
    calibration_scores_ : ndarray
        ``1 - p(true class)`` of each calibration song.
    calibration_groups_ : ndarray
        Their artists.
    n_calibration_groups_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    >>> artists = np.repeat(np.arange(80), 5)
    >>> model = ConformalClassifier(alpha=0.2, random_state=0).fit(X, y, groups=artists)
    >>> sets = model.predict_set(X[:3])
    >>> sets.shape, sets.dtype
    ((3, 2), dtype('bool'))
    """

    def _default(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression()

    def _check_y(self, y):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return y

    def _check_targets(self, y) -> None:
        unknown = sorted(set(np.unique(y).tolist()) - set(self.estimator_.classes_.tolist()))
        if unknown:
            raise ValueError(f"the calibration songs hold classes {unknown} that the fitted "
                             "estimator never saw; give more songs of each class")

    @property
    def classes_(self):
        """The classes, in the order of :meth:`predict_proba`'s columns."""
        return self.estimator_.classes_

    def _scores(self, X, y):
        proba = self.estimator_.predict_proba(X)
        column = np.searchsorted(self.classes_, y)
        return 1.0 - proba[np.arange(len(y)), column]

    def predict_proba(self, X):
        """The fitted estimator's probabilities.

        Parameters
        ----------
        X : sequence of songs

        Returns
        -------
        ndarray of shape (n_songs, n_classes)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict_set(self, X, alpha: float | None = None):
        """The prediction sets at level ``1 - alpha``.

        Parameters
        ----------
        X : sequence of songs
        alpha : float or None, default=None
            None is the model's ``alpha``.

        Returns
        -------
        ndarray of bool, shape (n_songs, n_classes)
            ``True`` where the class is in the song's set; the columns follow
            ``classes_``.
        """
        return self.sets_from_proba(self.predict_proba(X), alpha)

    def sets_from_proba(self, proba, alpha: float | None = None):
        """The prediction sets of probabilities this model's estimator gave.

        Parameters
        ----------
        proba : array-like of shape (n_songs, n_classes)
        alpha : float or None, default=None

        Returns
        -------
        ndarray of bool, shape (n_songs, n_classes)
        """
        return np.asarray(proba) >= 1.0 - self._quantile(alpha)


class ConformalRegressor(RegressorMixin, _Conformal):
    """A regressor with intervals that cover a new artist's number at a set level.

    The interval is the prediction plus or minus the conformal quantile of the
    calibration songs' absolute errors: as wide for every song (the split
    conformal interval of Lei et al., *Distribution-free predictive inference
    for regression*, JASA 2018).

    Parameters
    ----------
    estimator : regressor, default=None
        None is a ridge regression. A :class:`~sklearn.frozen.FrozenEstimator`
        around a fitted model is calibrated on all the songs ``fit`` gets.
    alpha : float, default=0.1
        The error rate of :meth:`predict_interval`.
    calibration_size : float or int, default=0.25
        The share (or number) of artists held out to calibrate.
    random_state : int, RandomState or None, default=None
        Which artists are held out.

    Attributes
    ----------
    estimator_ : regressor
    calibration_scores_ : ndarray
        The calibration songs' absolute errors.
    calibration_groups_ : ndarray
    n_calibration_groups_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = X[:, 0] + rng.normal(size=400)
    >>> artists = np.repeat(np.arange(80), 5)
    >>> model = ConformalRegressor(random_state=0).fit(X, y, groups=artists)
    >>> model.predict_interval(X[:2]).shape
    (2, 2)
    """

    def _default(self):
        from sklearn.linear_model import Ridge

        return Ridge()

    def _scores(self, X, y):
        return np.abs(np.asarray(y, float) - np.asarray(self.estimator_.predict(X), float))

    def predict_interval(self, X, alpha: float | None = None):
        """The intervals at level ``1 - alpha``.

        Parameters
        ----------
        X : sequence of songs
        alpha : float or None, default=None
            None is the model's ``alpha``.

        Returns
        -------
        ndarray of shape (n_songs, 2)
            Lower and upper ends.

        Raises
        ------
        ValueError
            When ``alpha`` is out of (0, 1), or asks for more calibration
            artists than the model had (:func:`min_calibration_groups`).
        """
        return self.intervals_from_predictions(self.predict(X), alpha)

    def intervals_from_predictions(self, predicted, alpha: float | None = None):
        """The intervals around numbers this model's estimator predicted.

        Parameters
        ----------
        predicted : array-like of shape (n_songs,)
        alpha : float or None, default=None

        Returns
        -------
        ndarray of shape (n_songs, 2)
        """
        q = self._quantile(alpha)
        predicted = np.asarray(predicted, float)
        return np.stack([predicted - q, predicted + q], axis=1)
