"""Probabilities that mean what they say, calibrated on artists the model did not see.

The default network weights its classes to balance them and smooths its labels,
so its probabilities are scores: ranked well, but shifted towards the rarer
class and squeezed. :class:`ArtistCalibratedClassifier` maps them to
probabilities with scikit-learn's :class:`~sklearn.calibration.CalibratedClassifierCV`,
on out-of-fold scores whose folds keep each artist's songs together: calibrated
on songs of artists the model trained on, the map would learn the model's
confidence on familiar artists and be overconfident for the new ones a user
scores.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils import get_tags, indexable
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

__all__ = ["ArtistCalibratedClassifier"]


class ArtistCalibratedClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A classifier whose probabilities are calibrated on out-of-fold scores by artist.

    ``fit`` cuts the songs into ``cv`` folds that keep each artist whole and
    both classes in each fold (:class:`~sklearn.model_selection.StratifiedGroupKFold`),
    fits the estimator on each fold's complement, and fits the calibration map
    on the held-out scores of all folds; then the estimator is fitted once more
    on all the songs (``ensemble=False``), or the fold models are kept and their
    calibrated probabilities averaged (``ensemble=True``). Either way it is
    :class:`~sklearn.calibration.CalibratedClassifierCV` given the folds.

    Parameters
    ----------
    estimator : classifier, default=None
        With ``predict_proba`` or ``decision_function``; None is a logistic
        regression. In a songpop pipeline wrap the last step (see
        :func:`~sklearn_songpop.make_songpop_pipeline`'s ``calibrate``), so that
        the songs are decoded once, not once per fold.
    method : {"sigmoid", "isotonic"}, default="sigmoid"
        Platt's sigmoid has two parameters; isotonic regression has a step per
        distinct score and, in scikit-learn's guide, overfits below about a
        thousand calibration songs. A few hundred songs call for the sigmoid.
    cv : int, default=5
        Folds of the calibration (at least 2, and no more than the artists of
        the rarer class).
    ensemble : bool, default=False
        False: one map fitted on all out-of-fold scores (each song once) and
        one model at prediction time, for ``cv + 1`` fits. True: ``cv`` models
        and maps, each map fitted on one fold's scores.
    random_state : int, RandomState or None, default=None
        Shuffles the artists into folds.

    Attributes
    ----------
    calibrated_ : CalibratedClassifierCV
        The fitted calibration.
    estimator_ : classifier
        The model fitted on all songs (``ensemble=False``), or that of the
        first fold.
    classes_ : ndarray
    calibrated_on_ : dict
        ``method``, ``n_songs``, ``n_groups`` and ``cv``: what the map was fitted
        on, for reports.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)); y = (X[:, 0] + rng.normal(size=300) > 1).astype(int)
    >>> artists = np.repeat(np.arange(60), 5)
    >>> model = ArtistCalibratedClassifier(random_state=0).fit(X, y, groups=artists)
    >>> model.calibrated_on_["n_groups"], model.predict_proba(X[:2]).shape
    (60, (2, 2))
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "method": [StrOptions({"sigmoid", "isotonic"})],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "ensemble": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, method: str = "sigmoid", cv: int = 5,
                 ensemble: bool = False, random_state=None):
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.ensemble = ensemble
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        """Fit the fold models, the calibration map and the final model.

        Parameters
        ----------
        X : sequence of songs
            What the estimator takes.
        y : array-like of shape (n_songs,)
        groups : array-like of shape (n_songs,), optional
            Artists, kept whole in each fold. None makes each song its own
            group: the map then learns from songs of artists the fold model
            trained on, and will be overconfident on new artists.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = indexable(X, y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"groups has {len(groups)} values but there are {len(y)} songs")
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"calibration needs two classes; y holds one class, "
                             f"{classes.tolist()}")
        fewest = min(len(np.unique(groups[y == c])) for c in classes)
        if fewest < self.cv:
            raise ValueError(
                f"cv={self.cv} folds by artist need at least {self.cv} artists with songs of "
                f"each class; the rarer class has {fewest}: lower cv or give more artists")
        folds = StratifiedGroupKFold(self.cv, shuffle=True, random_state=self.random_state)
        splits = list(folds.split(np.zeros(len(y)), y, groups))
        estimator = self._default() if self.estimator is None else self.estimator
        self.calibrated_ = CalibratedClassifierCV(
            clone(estimator), method=self.method, cv=splits, ensemble=self.ensemble).fit(X, y)
        self.calibrated_on_ = {"method": self.method, "n_songs": int(len(y)),
                               "n_groups": int(len(np.unique(groups))),
                               "cv": f"StratifiedGroupKFold({self.cv}) by artist"}
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self._default() if self.estimator is None else self.estimator
        tags.input_tags.sparse = get_tags(inner).input_tags.sparse
        return tags

    @staticmethod
    def _default():
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression()

    @property
    def classes_(self):
        """The classes, in the order of :meth:`predict_proba`'s columns."""
        check_is_fitted(self, "calibrated_")
        return self.calibrated_.classes_

    @property
    def n_features_in_(self):
        """The fitted model's number of features, where it has one."""
        return self.estimator_.n_features_in_

    @property
    def estimator_(self):
        """The fitted model under the calibration map (the first, with ``ensemble=True``)."""
        check_is_fitted(self, "calibrated_")
        return self.calibrated_.calibrated_classifiers_[0].estimator

    def predict_proba(self, X):
        """Calibrated probabilities.

        Parameters
        ----------
        X : sequence of songs

        Returns
        -------
        ndarray of shape (n_songs, n_classes)
        """
        check_is_fitted(self, "calibrated_")
        return self.calibrated_.predict_proba(X)

    def predict(self, X):
        """The class of the highest calibrated probability.

        Parameters
        ----------
        X : sequence of songs

        Returns
        -------
        ndarray of shape (n_songs,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
