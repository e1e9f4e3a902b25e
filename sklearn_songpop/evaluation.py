"""Honest evaluation: song-level cross-validation beside two baselines, and a report.

The seed paper reported accuracy alone, which equalled the share of the
majority class. Here every model is shown beside the majority-class baseline
and a logistic regression on per-band statistics, with balanced accuracy, ROC
AUC, average precision, F1 and the confusion matrix.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone, is_classifier
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    roc_auc_score,
)
from sklearn.model_selection import GroupKFold, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_songpop.intervals import IntervalSampler
from sklearn_songpop.spectrogram import SpectrogramTransformer

__all__ = ["BandStatistics", "EvaluationResult", "evaluate", "make_baselines"]

METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "average_precision", "f1")


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


def make_baselines(sampler: IntervalSampler | None = None, random_state=None) -> dict:
    """The two baselines every model is compared with.

    Parameters
    ----------
    sampler : IntervalSampler or None
        Prepended to the logistic baseline so it reads songs like the model;
        None builds a baseline that takes intervals ``(n, k, samples)``.
    random_state : int or None
        Seed of the logistic regression.

    Returns
    -------
    dict of str to estimator
        ``"majority class"``: a :class:`~sklearn.dummy.DummyClassifier`;
        ``"log-mel band statistics"``: log-mel spectrogram (64 bands), per-band
        mean and standard deviation, standardised, balanced logistic regression.

    Examples
    --------
    >>> sorted(make_baselines())
    ['log-mel band statistics', 'majority class']
    """
    steps = [] if sampler is None else [clone(sampler)]
    steps += [
        SpectrogramTransformer(kind="mel", n_mels=64, sr=getattr(sampler, "sr", 22050)),
        BandStatistics(),
        StandardScaler(),
        LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000,
                           random_state=random_state),
    ]
    return {
        "majority class": DummyClassifier(strategy="most_frequent"),
        "log-mel band statistics": make_pipeline(*steps),
    }


@dataclass
class EvaluationResult:
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

    def to_dict(self) -> dict:
        """Everything but the fitted estimators, as JSON-ready types.

        Returns
        -------
        dict
        """
        def plain(v):
            if isinstance(v, dict):
                return {str(k): plain(x) for k, x in v.items()}
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, (np.integer, np.floating, np.bool_)):
                return v.item()
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v

        return plain({
            "cv": self.cv, "classes": list(self.classes), "pos_label": self.pos_label,
            "n_songs": int(len(self.y)), "scores": self.scores, "fold_scores": self.fold_scores,
            "confusion_matrix": self.confusion, "fit_time_s": self.fit_time,
        })

    def save_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON.

        Parameters
        ----------
        path : str or os.PathLike
        """
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)

    def __str__(self) -> str:
        names = list(self.scores)
        width = max(len(n) for n in names) + 2
        head = f"{'model':<{width}}" + "".join(f"{m:>19}" for m in METRICS)
        lines = [f"Song-level scores, {self.cv}; {len(self.y)} songs, positive class "
                 f"{self.pos_label!r}", head, "-" * len(head)]
        for name in names:
            cells = []
            for m in METRICS:
                folds = np.asarray(self.fold_scores[name][m], float)
                cells.append(f"{self.scores[name][m]:.3f} ({np.nanstd(folds):.3f})"
                             if np.isfinite(self.scores[name][m]) else "n/a")
            lines.append(f"{name:<{width}}" + "".join(f"{c:>19}" for c in cells))
        lines.append("(pooled out-of-fold score, with the standard deviation over folds)")
        for name in names:
            cm = np.asarray(self.confusion[name])
            lines.append(f"\nConfusion matrix, {name} (rows: true, columns: predicted)")
            label_w = max(len(str(c)) for c in self.classes) + 2
            lines.append(" " * label_w + "".join(f"{str(c):>14}" for c in self.classes))
            for c, row in zip(self.classes, cm):
                lines.append(f"{str(c):<{label_w}}" + "".join(f"{v:>14d}" for v in row))
        return "\n".join(lines)

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
                display.from_predictions(y_pos, self.proba[name], name=name, ax=ax)
            ax.set_title(f"{title} ({self.cv})", fontsize=10)
            written.append(_save(fig, folder, fname))
        return written


def _save(fig, folder, name) -> str:
    import matplotlib.pyplot as plt

    path = os.path.join(folder, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
) -> EvaluationResult:
    """Cross-validate a model and the baselines on whole songs.

    When ``estimator`` is a pipeline that starts with an
    :class:`~sklearn_songpop.intervals.IntervalSampler`, the songs are decoded
    once and every model is cross-validated on the intervals. The sampler
    learns nothing in ``fit``, so this leaks nothing between folds.

    Parameters
    ----------
    estimator : classifier
        Typically :func:`~sklearn_songpop.pipeline.make_songpop_pipeline`.
    X : sequence of songs
        Paths or waveforms, as the estimator takes.
    y : array-like of shape (n_songs,)
        Labels; binary.
    groups : array-like of shape (n_songs,), optional
        Artists (or any groups) that must not cross folds.
    cv : int, splitter or None, default=None
        None is 5. An integer ``n``: ``n``-fold
        :class:`~sklearn.model_selection.GroupKFold` when ``groups`` is given,
        else shuffled ``n``-fold :class:`~sklearn.model_selection.StratifiedKFold`.
    baselines : bool or dict, default=True
        True adds :func:`make_baselines`; a dict names other models to compare.
    pos_label : object, optional
        The class whose probability is scored; default: the last of the sorted
        classes (1 for 0/1 labels, True for booleans).
    name : str, default="model"
        What to call the estimator in the report.
    verbose : int, default=0
        Print progress when > 0.

    Returns
    -------
    EvaluationResult

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
    """
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} songs but y has {len(y)} labels")
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"evaluate scores binary labels; y has classes {classes.tolist()}")
    pos_label = classes[-1] if pos_label is None else pos_label
    pos_label = pos_label.item() if isinstance(pos_label, np.generic) else pos_label
    if pos_label not in classes:
        raise ValueError(f"pos_label {pos_label!r} is not one of the classes {classes.tolist()}")
    if cv is None:
        cv = 5
    if isinstance(cv, int):
        cv = GroupKFold(cv) if groups is not None else StratifiedKFold(cv, shuffle=True,
                                                                       random_state=0)
    cv = check_cv(cv, y, classifier=True)
    sampler = None
    if isinstance(estimator, Pipeline) and isinstance(estimator.steps[0][1], IntervalSampler):
        sampler = estimator.steps[0][1]
        if verbose:
            print(f"decoding intervals of {len(X)} songs ...", flush=True)
        X = clone(sampler).fit_transform(X)
        estimator = estimator[1:]
    models = {name: estimator}
    if baselines is True:
        models.update(make_baselines(None))
    elif isinstance(baselines, dict):
        models.update(baselines)
    splits = list(cv.split(np.zeros(len(y)), y, groups))
    scores, fold_scores, confusion, proba, fit_time, fitted = {}, {}, {}, {}, {}, {}
    for name, model in models.items():  # noqa: B020 - the report names each model
        if not is_classifier(model):
            raise TypeError(f"{name!r} is not a classifier")
        p_pos = np.full(len(y), np.nan)
        pred = np.empty(len(y), dtype=y.dtype)
        per_fold = {m: [] for m in METRICS}
        t0 = time.perf_counter()
        for i, (train, test) in enumerate(splits):
            if verbose:
                print(f"{name}: fold {i + 1}/{len(splits)}", flush=True)
            m = clone(model).fit(_take(X, train), y[train])
            p = m.predict_proba(_take(X, test))
            col = list(m.classes_).index(pos_label)
            p_pos[test] = p[:, col]
            pred[test] = np.asarray(m.classes_)[p.argmax(axis=1)]
            for key, val in _scores(y[test], p_pos[test], pred[test], pos_label).items():
                per_fold[key].append(val)
        fit_time[name] = time.perf_counter() - t0
        fitted[name] = m
        scores[name] = _scores(y, p_pos, pred, pos_label)
        fold_scores[name] = per_fold
        confusion[name] = confusion_matrix(y, pred, labels=classes)
        proba[name] = p_pos
    cv_name = type(cv).__name__ + (" by group" if groups is not None else "")
    return EvaluationResult(
        scores=scores, fold_scores=fold_scores, confusion=confusion, proba=proba, y=y,
        classes=classes.tolist(), pos_label=pos_label, cv=f"{cv_name}, {len(splits)} folds",
        fit_time=fit_time, estimators=fitted,
    )


def _take(X, idx):
    if isinstance(X, np.ndarray):
        return X[idx]
    return [X[i] for i in idx]
