"""Cross-validated results as text and JSON; their figures are drawn by ``plotting``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from sklearn_songpop._json import to_json_types
from sklearn_songpop.metrics import CALIBRATION_METRICS, ECE_BINS, METRICS, REGRESSION_METRICS
from sklearn_songpop.plotting import plot_classification_results, plot_regression_results

__all__ = ["EvaluationResult", "RegressionResult"]


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

    def _uncertainty_table(self) -> list[str]:
        """Calibration (classifiers) and the cross-conformal coverage, a row per model."""
        if not self.conformal and not getattr(self, "calibration", None):
            return []
        calibration = getattr(self, "calibration", None) or {}
        size = "size" if calibration else "width"
        alphas = list(next(iter(self.conformal.values()), {}))
        head = [*(CALIBRATION_METRICS if calibration else ()),
                *[f"{k}@{a}" for a in alphas for k in ("cover", size)]]
        width = max(len(n) for n in self.scores) + 2
        lines = ["", ("Calibration of the probabilities (pooled out-of-fold; ECE over "
                      f"{ECE_BINS} bins of equal size) and cross-conformal "
                      if calibration else "Cross-conformal ")
                 + ("sets" if calibration else "intervals")
                 + " (coverage and mean " + size + " at each alpha)",
                 f"{'model':<{width}}" + "".join(f"{h:>12}" for h in head)]
        lines.append("-" * len(lines[-1]))
        for name in self.scores:
            cells = [calibration[name][m] for m in CALIBRATION_METRICS] if calibration else []
            for a in alphas:
                entry = self.conformal.get(name, {}).get(a, {})
                cells += [entry.get("coverage", np.nan),
                          entry.get("mean_set_size", entry.get("mean_width", np.nan))]
            lines.append(f"{name:<{width}}" + "".join(
                f"{v:>12.3f}" if np.isfinite(v) else f"{'n/a':>12}" for v in cells))
        return lines

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
    calibration : dict
        ``calibration[model]``: the Brier score and the expected calibration
        error (``"brier"``, ``"ece"``) of the pooled out-of-fold probabilities.
    conformal : dict
        ``conformal[model][alpha]``: ``"coverage"`` and ``"mean_set_size"`` of
        the cross-conformal sets at that error rate (alpha as a string).
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
    calibration: dict = field(default_factory=dict)
    conformal: dict = field(default_factory=dict)
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
            "calibration": self.calibration, "conformal": self.conformal,
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
        return self._with_forward(lines + self._uncertainty_table())

    def plot(self, folder: str | os.PathLike) -> list[str]:
        """Save confusion matrices, ROC and precision-recall curves as PNG files.

        See :func:`~sklearn_songpop.plotting.plot_classification_results`, which draws them.
        """
        return plot_classification_results(self, folder)


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
    conformal : dict
        ``conformal[model][alpha]``: ``"coverage"`` and ``"mean_width"`` of the
        cross-conformal intervals at that error rate (alpha as a string).
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
    conformal: dict = field(default_factory=dict)
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
            "fit_time_s": _json_ready(self.fit_time), "conformal": _json_ready(self.conformal),
        }
        if self.forward is not None:
            out["forward_in_time"] = self.forward.to_dict()
        return out

    def __str__(self) -> str:
        n = int(np.sum(~np.isnan(next(iter(self.pred.values())))))
        lines = _score_table(f"Song-level scores, {self.cv}; {n} songs", self.scores,
                             self.fold_scores, REGRESSION_METRICS, pooled=False)
        return self._with_forward(lines + self._uncertainty_table())

    def plot(self, folder: str | os.PathLike) -> list[str]:
        """Save a scatter of predicted against true values per model as a PNG file.

        See :func:`~sklearn_songpop.plotting.plot_regression_results`, which draws them.
        """
        return plot_regression_results(self, folder)


def _json_ready(value):
    """JSON's types; anything else is left for ``json.dump`` to judge."""
    return to_json_types(value, fallback=lambda v: v)
