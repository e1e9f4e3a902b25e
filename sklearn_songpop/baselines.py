"""The baselines every model is compared with: the majority class (or the training
mean) and a linear model on per-band statistics of the log-mel spectrogram."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_songpop.intervals import IntervalSampler
from sklearn_songpop.spectrogram import SpectrogramTransformer

__all__ = ["BandStatistics", "make_baselines"]


class BandStatistics(TransformerMixin, BaseEstimator):
    """Mean and standard deviation of each frequency band, over intervals and frames.

    Turns ``(n_songs, k, n_bins, n_frames)`` spectrograms into ``(n_songs,
    2 * n_bins)`` features for a linear baseline. ``(n_songs, n_bins,
    n_frames)`` is one interval per song; a 2-D ``(n_songs, n_frames)`` is one
    band per song.

    Attributes
    ----------
    n_features_in_ : int
        Length of the second axis of ``X`` in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> BandStatistics().fit_transform(np.ones((2, 3, 4, 5))).shape
    (2, 8)
    """

    def fit(self, X, y=None):
        """Check ``X``; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)
        y : ignored

        Returns
        -------
        self : BandStatistics
        """
        self._check(X, reset=True)
        return self

    def _check(self, X, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float32)
        if X.ndim == 2:  # one band per song, its values being frames
            X = X[:, None, None, :]
        elif X.ndim == 3:  # one interval per song
            X = X[:, None]
        if X.ndim != 4:
            raise ValueError(f"X must be (n_songs, k, n_bins, n_frames), got shape {X.shape}")
        return X

    def transform(self, X) -> np.ndarray:
        """Per-band mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs, 2 * n_bins)
        """
        check_is_fitted(self, "n_features_in_")
        X = self._check(X, reset=False)
        return np.concatenate([X.mean(axis=(1, 3)), X.std(axis=(1, 3))], axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def make_baselines(
    sampler: IntervalSampler | None = None, random_state=None, task: str = "classification",
) -> dict:
    """The two baselines every model is compared with.

    Parameters
    ----------
    sampler : IntervalSampler or None
        Prepended to the linear baseline so it reads songs like the model;
        None builds a baseline that takes intervals ``(n, k, samples)``.
    random_state : int or None
        Seed of the logistic regression.
    task : {"classification", "regression"}, default="classification"

    Returns
    -------
    dict of str to estimator
        For classification, ``"majority class"``: a
        :class:`~sklearn.dummy.DummyClassifier`; ``"log-mel band statistics"``:
        log-mel spectrogram (64 bands), per-band mean and standard deviation,
        standardised, balanced logistic regression. For regression,
        ``"training mean"``: a :class:`~sklearn.dummy.DummyRegressor`; ``"log-mel
        band statistics"``: the same features into a ridge regression whose
        penalty is chosen by leave-one-out on the training songs.

    Examples
    --------
    >>> sorted(make_baselines())
    ['log-mel band statistics', 'majority class']
    >>> sorted(make_baselines(task="regression"))
    ['log-mel band statistics', 'training mean']
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    steps = [] if sampler is None else [clone(sampler)]
    steps += [
        SpectrogramTransformer(kind="mel", n_mels=64, sr=getattr(sampler, "sr", 22050)),
        BandStatistics(),
        StandardScaler(),
    ]
    if task == "regression":
        return {
            "training mean": DummyRegressor(),
            "log-mel band statistics": make_pipeline(
                *steps, RidgeCV(alphas=np.logspace(-1, 4, 11))),
        }
    return {
        "majority class": DummyClassifier(strategy="most_frequent"),
        "log-mel band statistics": make_pipeline(*steps, LogisticRegression(
            C=0.1, class_weight="balanced", max_iter=2000, random_state=random_state)),
    }
