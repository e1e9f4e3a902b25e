"""Song-level scores of classifiers and of models of a number.

Balanced accuracy, ROC AUC, average precision and F1 beside accuracy, so that a
model that says "not popular" for every song shows as what it is; for numbers,
Spearman's rho, R^2, the mean absolute error and two "pick the hits" scores.
How far a classifier's probabilities can be read as frequencies is measured by the
Brier score and the expected calibration error (:data:`CALIBRATION_METRICS`).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import rankdata, spearmanr
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    mean_absolute_error,
    ndcg_score,
    r2_score,
    roc_auc_score,
)

__all__ = [
    "CALIBRATION_METRICS", "METRICS", "REGRESSION_METRICS", "TOP_SHARE", "calibration_scores",
    "classification_scores", "expected_calibration_error", "hit_precision",
    "regression_scores",
]

METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "average_precision", "f1")
REGRESSION_METRICS = ("spearman", "r2", "mae", "top10_precision", "top10_ndcg")
#: The share of songs that "pick the hits" scores look at.
TOP_SHARE = 0.1
CALIBRATION_METRICS = ("brier", "ece")
#: Bins of :func:`expected_calibration_error`, each holding the same number of songs.
ECE_BINS = 10


def hit_precision(y_true, y_pred, top: float = TOP_SHARE) -> float:
    """Share of the songs predicted in the top ``top`` that are in the true top ``top``.

    "Pick the hits": of the songs a model would put forward, how many are
    among the best. Ties are broken by order. A random ranking scores about
    ``top``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_songs,)
    top : float, default=0.1
        The share of songs picked, at least one song.

    Returns
    -------
    float

    Examples
    --------
    >>> hit_precision([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [9, 0, 0, 0, 0, 0, 0, 0, 0, 1], top=0.2)
    0.5
    """
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    n = max(1, int(round(top * len(y_true))))
    picked = np.argsort(-y_pred, kind="stable")[:n]
    best = np.argsort(-y_true, kind="stable")[:n]
    return float(np.isin(picked, best).mean())


def regression_scores(y_true, y_pred) -> dict:
    """The scores of a model of a number: Spearman's rho, R^2, MAE and the top 10%.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_songs,)

    Returns
    -------
    dict of str to float
        Keyed by :data:`REGRESSION_METRICS`; NaN where a score is undefined
        (constant true values).

    Examples
    --------
    >>> scores = regression_scores([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 5.0])
    >>> round(scores["spearman"], 3), round(scores["top10_precision"], 3)
    (1.0, 1.0)
    """
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    varied = len(y_true) > 1 and np.ptp(y_true) > 0
    rho = spearmanr(y_pred, y_true).statistic if varied and np.ptp(y_pred) > 0 else (
        0.0 if varied else float("nan"))
    gain = (rankdata(y_true) - 1) / max(1, len(y_true) - 1)
    k = max(1, int(round(TOP_SHARE * len(y_true))))
    return {
        "spearman": float(rho),
        "r2": r2_score(y_true, y_pred) if varied else float("nan"),
        "mae": mean_absolute_error(y_true, y_pred),
        "top10_precision": hit_precision(y_true, y_pred),
        "top10_ndcg": ndcg_score(gain[None], y_pred[None], k=k) if len(y_true) > 1
        else float("nan"),
    }


def classification_scores(y_true, proba_pos, y_pred, pos_label) -> dict:
    """The scores of a classifier: accuracy, balanced accuracy, ROC AUC, AP and F1.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_songs,)
        True and predicted classes.
    proba_pos : array-like of shape (n_songs,)
        The probability (or score) of ``pos_label``.
    pos_label : object
        The class that counts as positive.

    Returns
    -------
    dict of str to float
        Keyed by :data:`METRICS`; the ranking scores are NaN where the songs
        hold one class.

    Examples
    --------
    >>> scores = classification_scores([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.6], [0, 1, 0, 1], 1)
    >>> scores["balanced_accuracy"], scores["roc_auc"]
    (0.5, 0.75)
    """
    y_bin = np.asarray(y_true) == pos_label
    both = y_bin.any() and not y_bin.all()
    with warnings.catch_warnings():
        # one class in y_true: balanced accuracy is the recall of that class, as intended;
        # evaluate names such folds itself
        warnings.filterwarnings("ignore", "y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", "A single label was found")
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced,
        "roc_auc": roc_auc_score(y_bin, proba_pos) if both else float("nan"),
        "average_precision": average_precision_score(y_bin, proba_pos) if both else float("nan"),
        "f1": f1_score(y_bin, np.asarray(y_pred) == pos_label, zero_division=0.0),
    }


def expected_calibration_error(y_true, proba_pos, pos_label=1, n_bins: int = ECE_BINS) -> float:
    """How far predicted probabilities lie from the observed frequencies.

    The songs are sorted by their probability and cut into ``n_bins`` bins of
    equal size (equal mass, not equal width: with a few hundred songs most
    equal-width bins would hold a handful). In each bin the mean probability
    is compared with the share of positives; the error is the mean of these
    gaps, weighted by the bins' sizes.

    Parameters
    ----------
    y_true : array-like of shape (n_songs,)
        True classes.
    proba_pos : array-like of shape (n_songs,)
        The predicted probability of ``pos_label``.
    pos_label : object, default=1
        The class that counts as positive.
    n_bins : int, default=10
        Bins; fewer when there are fewer songs.

    Returns
    -------
    float
        From 0 (each bin's mean probability equals its share of positives)
        to 1.

    Examples
    --------
    >>> expected_calibration_error([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0], n_bins=2)
    0.0
    >>> round(expected_calibration_error([0, 1, 0, 1], [0.9, 0.9, 0.1, 0.1], n_bins=2), 3)
    0.4
    """
    y_bin = (np.asarray(y_true) == pos_label).astype(float)
    p = np.asarray(proba_pos, float)
    if y_bin.shape != p.shape or p.ndim != 1:
        raise ValueError(f"y_true and proba_pos must be two vectors of one length; got shapes "
                         f"{y_bin.shape} and {p.shape}")
    if not len(p):
        return float("nan")
    order = np.argsort(p, kind="stable")
    gaps = [len(b) * abs(y_bin[b].mean() - p[b].mean())
            for b in np.array_split(order, min(n_bins, len(p)))]
    return float(np.sum(gaps) / len(p))


def calibration_scores(y_true, proba_pos, pos_label) -> dict:
    """The Brier score and the expected calibration error of a classifier's probabilities.

    Parameters
    ----------
    y_true : array-like of shape (n_songs,)
        True classes.
    proba_pos : array-like of shape (n_songs,)
        The predicted probability of ``pos_label``.
    pos_label : object
        The class that counts as positive.

    Returns
    -------
    dict of str to float
        Keyed by :data:`CALIBRATION_METRICS`; lower is better for both.

    Examples
    --------
    >>> scores = calibration_scores([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.6], 1)
    >>> round(scores["brier"], 4)
    0.1925
    """
    y_bin = np.asarray(y_true) == pos_label
    return {"brier": float(brier_score_loss(y_bin, proba_pos)),
            "ece": expected_calibration_error(y_bin, proba_pos, pos_label=True)}
