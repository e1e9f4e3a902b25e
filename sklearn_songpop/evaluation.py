"""Honest evaluation: song-level cross-validation beside two baselines, and a report.

The seed paper reported accuracy alone, which equalled the share of the
majority class. Here every model is shown beside the majority-class baseline
and a logistic regression on per-band statistics, with balanced accuracy, ROC
AUC, average precision, F1 and the confusion matrix. A model of a number
(streams, a popularity score) is shown beside the training mean and a ridge
regression on the same statistics, with Spearman's rho, R^2, the mean absolute
error and two "pick the hits" scores. Given release years, the same models are
also scored forward in time (:class:`~sklearn_songpop.ReleaseYearSplit`),
beside the shuffled scores.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata, spearmanr
from sklearn.base import BaseEstimator, TransformerMixin, clone, is_classifier, is_regressor
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    ndcg_score,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_songpop._json import to_json_types
from sklearn_songpop.intervals import IntervalSampler
from sklearn_songpop.model_selection import ReleaseYearSplit
from sklearn_songpop.spectrogram import SpectrogramTransformer

__all__ = [
    "BandStatistics", "EvaluationResult", "RegressionResult", "evaluate", "hit_precision",
    "leak_comparison", "make_baselines",
]

METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "average_precision", "f1")
REGRESSION_METRICS = ("spearman", "r2", "mae", "top10_precision", "top10_ndcg")
#: The share of songs that "pick the hits" scores look at.
TOP_SHARE = 0.1


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


class _Report:
    """What both kinds of results share: JSON, and the forward-in-time part of the text."""

    def save_json(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Write :meth:`to_dict` as JSON.

        Parameters
        ----------
        path : str or os.PathLike
        extra : dict or None, default=None
            More entries for the top level (such as ``"leak_comparison"``).
        """
        with open(path, "w", encoding="utf-8") as f:
            json.dump({**self.to_dict(), **_json_ready(extra or {})}, f, indent=2)

    def _with_forward(self, lines: list[str]) -> str:
        if self.forward is not None:
            lines = [*lines, "", "Forward in time:", str(self.forward)]
        return "\n".join(lines)


@dataclass
class EvaluationResult(_Report):
    """Cross-validated, song-level results of several models.

    Parameters
    ----------
    scores : dict
        ``scores[model][metric]``: the metric over all out-of-fold predictions.
    fold_scores : dict
        ``fold_scores[model][metric]``: one value per fold.
    confusion : dict
        ``confusion[model]``: confusion matrix (rows true, columns predicted),
        in the order of ``classes``.
    proba : dict
        ``proba[model]``: out-of-fold probability of ``pos_label`` per song.
    y : ndarray
        True labels.
    classes : list
        Class labels.
    pos_label : object
        The class whose probability is scored.
    cv : str
        The splitter.
    fit_time : dict
        Seconds of fitting per model, over all folds.
    estimators : dict
        ``estimators[model]``: the model fitted on the last fold (for its
        training history).
    forward : EvaluationResult or None
        The same models scored forward in time, when :func:`evaluate` had
        release times; its songs are those of the test years (the others
        have NaN in ``proba``).

    Examples
    --------
    See :func:`evaluate`.
    """

    scores: dict
    fold_scores: dict
    confusion: dict
    proba: dict
    y: np.ndarray
    classes: list
    pos_label: object
    cv: str
    fit_time: dict
    estimators: dict = field(default_factory=dict, repr=False)
    forward: EvaluationResult | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """Everything but the fitted estimators, as JSON-ready types.

        Returns
        -------
        dict
        """
        out = _json_ready({
            "cv": self.cv, "classes": list(self.classes), "pos_label": self.pos_label,
            "n_songs": int(len(self.y)), "scores": self.scores, "fold_scores": self.fold_scores,
            "confusion_matrix": self.confusion, "fit_time_s": self.fit_time,
        })
        if self.forward is not None:
            out["forward_in_time"] = self.forward.to_dict()
        return out

    def __str__(self) -> str:
        n = int(np.sum(~np.isnan(next(iter(self.proba.values())))))
        title = f"Song-level scores, {self.cv}; {n} songs, positive class {self.pos_label!r}"
        lines = _score_table(title, self.scores, self.fold_scores, METRICS)
        for name in self.scores:
            cm = np.asarray(self.confusion[name])
            lines.append(f"\nConfusion matrix, {name} (rows: true, columns: predicted)")
            label_w = max(len(str(c)) for c in self.classes) + 2
            lines.append(" " * label_w + "".join(f"{str(c):>14}" for c in self.classes))
            for c, row in zip(self.classes, cm):
                lines.append(f"{str(c):<{label_w}}" + "".join(f"{v:>14d}" for v in row))
        return self._with_forward(lines)

    def plot(self, folder: str | os.PathLike) -> list[str]:
        """Save confusion matrices, ROC and precision-recall curves as PNG files.

        Parameters
        ----------
        folder : str or os.PathLike
            Created when missing.

        Returns
        -------
        list of str
            The files written.
        """
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        from sklearn.metrics import (
            ConfusionMatrixDisplay,
            PrecisionRecallDisplay,
            RocCurveDisplay,
        )

        os.makedirs(folder, exist_ok=True)
        written = []
        names = list(self.scores)
        fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8))
        for ax, name in zip(np.atleast_1d(axes), names):
            ConfusionMatrixDisplay(np.asarray(self.confusion[name]),
                                   display_labels=self.classes).plot(ax=ax, colorbar=False)
            ax.set_title(name, fontsize=10)
        fig.tight_layout()
        written.append(_save(fig, folder, "confusion_matrices.png"))
        y_pos = np.asarray(self.y) == self.pos_label
        for title, display, fname in (
            ("ROC curve", RocCurveDisplay, "roc.png"),
            ("Precision-recall curve", PrecisionRecallDisplay, "precision_recall.png"),
        ):
            fig, ax = plt.subplots(figsize=(5, 4.5))
            for name in names:
                tested = ~np.isnan(self.proba[name])
                display.from_predictions(y_pos[tested], self.proba[name][tested], name=name,
                                         ax=ax)
            ax.set_title(f"{title} ({self.cv})", fontsize=10)
            written.append(_save(fig, folder, fname))
        return written


def _save(fig, folder, name) -> str:
    import matplotlib.pyplot as plt

    path = os.path.join(folder, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _score_table(title: str, scores: dict, fold_scores: dict, metrics,
                 pooled: bool = True) -> list[str]:
    """Lines of a table: a row per model, the pooled score and the spread over folds."""
    names = list(scores)
    width = max(len(n) for n in names) + 2
    head = f"{'model':<{width}}" + "".join(f"{m:>19}" for m in metrics)
    lines = [title, head, "-" * len(head)]
    for name in names:
        cells = []
        for m in metrics:
            folds = np.asarray(fold_scores[name][m], float)
            cells.append(f"{scores[name][m]:.3f} ({np.nanstd(folds):.3f})"
                         if np.isfinite(scores[name][m]) else "n/a")
        lines.append(f"{name:<{width}}" + "".join(f"{c:>19}" for c in cells))
    lines.append("(pooled out-of-fold score, with the standard deviation over folds)" if pooled
                 else "(mean over folds, with the standard deviation over folds)")
    return lines


@dataclass
class RegressionResult(_Report):
    """Cross-validated, song-level results of several models of a number.

    Parameters
    ----------
    scores : dict
        ``scores[model][metric]``: the mean over folds (not over the pooled
        out-of-fold predictions, whose fold-to-fold shifts would score even a
        constant model: each fold's training mean sits away from its test
        songs); the metrics are ``spearman`` (rank correlation), ``r2``, ``mae`` and the
        "pick the hits" scores ``top10_precision`` (:func:`hit_precision`)
        and ``top10_ndcg`` (NDCG of the top 10% predicted, the gain of a song
        being its rank among all songs, from 0 to 1).
    fold_scores : dict
        ``fold_scores[model][metric]``: one value per fold.
    pred : dict
        ``pred[model]``: out-of-fold prediction per song (NaN for a song no
        fold tested).
    y : ndarray
        True values.
    cv : str
        The splitter.
    fit_time : dict
        Seconds of fitting per model, over all folds.
    estimators : dict
        ``estimators[model]``: the model fitted on the last fold.
    forward : RegressionResult or None
        The same models scored forward in time, when :func:`evaluate` had
        release times.

    Examples
    --------
    See :func:`evaluate`.
    """

    scores: dict
    fold_scores: dict
    pred: dict
    y: np.ndarray
    cv: str
    fit_time: dict
    estimators: dict = field(default_factory=dict, repr=False)
    forward: RegressionResult | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """Everything but the fitted estimators, as JSON-ready types.

        Returns
        -------
        dict
        """
        out = {
            "cv": self.cv, "task": "regression",
            "n_songs": int(np.sum(~np.isnan(next(iter(self.pred.values()))))),
            "scores": _json_ready(self.scores), "fold_scores": _json_ready(self.fold_scores),
            "fit_time_s": _json_ready(self.fit_time),
        }
        if self.forward is not None:
            out["forward_in_time"] = self.forward.to_dict()
        return out

    def __str__(self) -> str:
        n = int(np.sum(~np.isnan(next(iter(self.pred.values())))))
        lines = _score_table(f"Song-level scores, {self.cv}; {n} songs", self.scores,
                             self.fold_scores, REGRESSION_METRICS, pooled=False)
        return self._with_forward(lines)

    def plot(self, folder: str | os.PathLike) -> list[str]:
        """Save a scatter of predicted against true values per model as a PNG file.

        Parameters
        ----------
        folder : str or os.PathLike
            Created when missing.

        Returns
        -------
        list of str
            The files written.
        """
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        os.makedirs(folder, exist_ok=True)
        names = list(self.scores)
        fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.0),
                                 squeeze=False)
        y = np.asarray(self.y, float)
        for ax, name in zip(axes[0], names):
            tested = ~np.isnan(self.pred[name])
            ax.scatter(y[tested], self.pred[name][tested], s=10, alpha=0.6)
            low, high = np.nanmin(y[tested]), np.nanmax(y[tested])
            ax.plot([low, high], [low, high], color="k", linewidth=0.8)
            ax.set_xlabel("true")
            ax.set_ylabel("predicted")
            ax.set_title(f"{name}: rho {self.scores[name]['spearman']:.2f}", fontsize=10)
        fig.tight_layout()
        return [_save(fig, folder, "predicted_vs_true.png")]


def _json_ready(value):
    """JSON's types; anything else is left for ``json.dump`` to judge."""
    return to_json_types(value, fallback=lambda v: v)


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


def _regression_scores(y_true, y_pred) -> dict:
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


def _scores(y_true, proba_pos, y_pred, pos_label) -> dict:
    y_bin = np.asarray(y_true) == pos_label
    both = y_bin.any() and not y_bin.all()
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "roc_auc": roc_auc_score(y_bin, proba_pos) if both else float("nan"),
        "average_precision": average_precision_score(y_bin, proba_pos) if both else float("nan"),
        "f1": f1_score(y_bin, np.asarray(y_pred) == pos_label, zero_division=0.0),
    }


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
        None is 5. An integer ``n``: ``n``-fold
        :class:`~sklearn.model_selection.GroupKFold` when ``groups`` is given,
        else shuffled ``n``-fold :class:`~sklearn.model_selection.StratifiedKFold`
        (:class:`~sklearn.model_selection.KFold` for numbers).
    baselines : bool or dict, default=True
        True adds :func:`make_baselines` for the task; a dict names other
        models to compare.
    pos_label : object, optional
        Classification: the class whose probability is scored; default: the
        last of the sorted classes (1 for 0/1 labels, True for booleans).
    name : str, default="model"
        What to call the estimator in the report.
    verbose : int, default=0
        Print progress when > 0.
    times : array-like of shape (n_songs,), optional
        Release years (or anything that sorts in time). The same models are
        then also scored with :class:`~sklearn_songpop.ReleaseYearSplit`, in
        the result's ``forward``.
    n_time_splits : int, default=3
        Test years of the forward-in-time evaluation.

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
        cv = (GroupKFold(cv) if groups is not None
              else KFold(cv, shuffle=True, random_state=0) if regression
              else StratifiedKFold(cv, shuffle=True, random_state=0))
    cv = check_cv(cv, y, classifier=not regression)
    if isinstance(estimator, Pipeline) and isinstance(estimator.steps[0][1], IntervalSampler):
        if verbose:
            print(f"decoding intervals of {len(X)} songs ...", flush=True)
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
    result = run(models, X, y, list(cv.split(np.zeros(len(y)), y, groups)), cv_name,
                 verbose, classes=classes, pos_label=pos_label)
    if times is not None:
        forward = ReleaseYearSplit(n_time_splits)
        result.forward = run(models, X, y, list(forward.split(np.zeros(len(y)), groups=times)),
                             "ReleaseYearSplit", verbose, classes=classes, pos_label=pos_label)
    return result


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
    ['by artist (GroupKFold by group, 3 folds)', 'shuffled (StratifiedKFold, 3 folds)']
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


def _out_of_fold(models: dict, X, y, splits, verbose, output):
    """For each model: out-of-fold outputs (NaN for untested songs), fit time, last model."""
    for name, model in models.items():
        out, t0 = None, time.perf_counter()
        for i, (train, test) in enumerate(splits):
            if verbose:
                print(f"{name}: fold {i + 1}/{len(splits)}", flush=True)
            m = clone(model).fit(_take(X, train), y[train])
            o = output(m, _take(X, test))
            if out is None:
                out = np.full((len(y), *o.shape[1:]), np.nan)
            out[test] = o
        yield name, out, time.perf_counter() - t0, m


def _regression_run(models, X, y, splits, cv_name, verbose, **_) -> RegressionResult:
    scores, fold_scores, pred, fit_time, fitted = {}, {}, {}, {}, {}
    for name, out, seconds, last in _out_of_fold(
            models, X, y, splits, verbose, lambda m, Xt: np.asarray(m.predict(Xt), float)):
        per_fold = {m: [] for m in REGRESSION_METRICS}
        for _, test in splits:
            for key, val in _regression_scores(y[test], out[test]).items():
                per_fold[key].append(val)
        scores[name] = {m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
                        for m, v in per_fold.items()}
        fold_scores[name], pred[name], fit_time[name], fitted[name] = (
            per_fold, out, seconds, last)
    return RegressionResult(scores=scores, fold_scores=fold_scores, pred=pred, y=y,
                            cv=f"{cv_name}, {len(splits)} folds", fit_time=fit_time,
                            estimators=fitted)


def _classification_run(models, X, y, splits, cv_name, verbose, *, classes,
                        pos_label) -> EvaluationResult:
    def proba_by_class(m, Xt):  # columns in the order of ``classes``
        p = m.predict_proba(Xt)
        out = np.zeros((len(p), len(classes)))
        for j, c in enumerate(m.classes_):
            out[:, list(classes).index(c)] = p[:, j]
        return out

    pos = list(classes).index(pos_label)
    scores, fold_scores, confusion, proba, fit_time, fitted = {}, {}, {}, {}, {}, {}
    for name, out, seconds, last in _out_of_fold(models, X, y, splits, verbose,
                                                 proba_by_class):
        pred = classes[np.nan_to_num(out).argmax(axis=1)]
        per_fold = {m: [] for m in METRICS}
        for _, test in splits:
            for key, val in _scores(y[test], out[test, pos], pred[test], pos_label).items():
                per_fold[key].append(val)
        tested = ~np.isnan(out[:, pos])
        scores[name] = _scores(y[tested], out[tested, pos], pred[tested], pos_label)
        fold_scores[name], fit_time[name], fitted[name] = per_fold, seconds, last
        confusion[name] = confusion_matrix(y[tested], pred[tested], labels=classes)
        proba[name] = out[:, pos]
    return EvaluationResult(
        scores=scores, fold_scores=fold_scores, confusion=confusion, proba=proba, y=y,
        classes=classes.tolist(), pos_label=pos_label, cv=f"{cv_name}, {len(splits)} folds",
        fit_time=fit_time, estimators=fitted,
    )


def _take(X, idx):
    if isinstance(X, np.ndarray):
        return X[idx]
    return [X[i] for i in idx]
