"""The prediction table: one row per song, what ``songpop predict`` writes.

A trained songpop pipeline may end in a network, a linear model, or either
wrapped in an :class:`~sklearn_songpop.ArtistCalibratedClassifier` and a
:class:`~sklearn_songpop.ConformalClassifier` (or
:class:`~sklearn_songpop.ConformalRegressor`). :func:`predict_table` reads
each song once and gives, as a DataFrame, what each layer can say: the score
or calibrated probability, the class or number, how unlike the training songs
the song is, the conformal set or interval, and each interval's own output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.pipeline import Pipeline

from sklearn_songpop._novelty import WARN_AT
from sklearn_songpop.audio import AudioError
from sklearn_songpop.calibration import ArtistCalibratedClassifier
from sklearn_songpop.conformal import ConformalClassifier, ConformalRegressor

__all__ = ["POSITIVE_ATTRIBUTE", "ModelParts", "model_parts", "predict_table"]


@dataclass
class ModelParts:
    """A trained pipeline taken apart.

    Attributes
    ----------
    front : Pipeline
        The steps before the last: songs to what the last step takes.
    last : estimator
        The last step, wrappers included.
    model : estimator
        The classifier or regressor under the wrappers.
    task : {"classification", "regression"}
    calibrated : dict or None
        What the probabilities were calibrated on
        (:attr:`ArtistCalibratedClassifier.calibrated_on_`), None if they were not.
    conformal : ConformalClassifier, ConformalRegressor or None
    """

    front: Pipeline
    last: object
    model: object
    task: str
    calibrated: dict | None
    conformal: object

    @property
    def by_interval(self) -> bool:
        """Whether the model scores each interval (a network), not whole songs."""
        return hasattr(self.model, "predict_interval_proba") or hasattr(
            self.model, "predict_interval")

    @property
    def novelty(self) -> bool:
        """Whether the model kept training songs to measure novelty against."""
        return getattr(self.model, "novelty_reference_", None) is not None


def model_parts(model) -> ModelParts:
    """Take a trained songpop pipeline apart, or say in one line why it is not one.

    Parameters
    ----------
    model : Pipeline
        From ``songpop train`` or :func:`~sklearn_songpop.make_songpop_pipeline`,
        fitted.

    Returns
    -------
    ModelParts

    Raises
    ------
    TypeError
        When ``model`` is not a pipeline ending in a ``"classifier"`` or a
        ``"regressor"`` step (an encoder, a bare estimator, anything else).
    """
    last = model.steps[-1] if isinstance(model, Pipeline) else None
    if last is not None and last[0] == "encoder":
        raise TypeError("it holds a pretrained encoder (songpop pretrain), which predicts "
                        "nothing; use it with songpop similar, or train a model on it with "
                        "songpop train --encoder")
    if last is None or last[0] not in ("classifier", "regressor"):
        kind = type(model).__name__ if last is None else f"pipeline ending in {last[0]!r}"
        raise TypeError(f"it holds a {kind}, not a model made by songpop train (a pipeline "
                        "ending in a 'classifier' or a 'regressor')")
    name, step = last
    inner, conformal, calibrated = step, None, None
    if isinstance(inner, (ConformalClassifier, ConformalRegressor)):
        conformal, inner = inner, inner.estimator_
    if isinstance(inner, ArtistCalibratedClassifier):
        calibrated, inner = inner.calibrated_on_, inner.estimator_
    return ModelParts(front=model[:-1], last=step, model=inner,
                      task="classification" if name == "classifier" else "regression",
                      calibrated=calibrated, conformal=conformal)


#: Where ``songpop train --positive-class`` records the class a table scores.
POSITIVE_ATTRIBUTE = "positive_class_"


def predict_table(model, songs, *, intervals: bool = False, alpha: float | None = None,
                  on_error: str = "raise", names=None, pos_label=None):
    """Score songs with a trained pipeline: one row per song.

    Parameters
    ----------
    model : Pipeline
        A trained songpop pipeline (:func:`model_parts`).
    songs : sequence of songs
        Paths or waveforms, as the pipeline takes them.
    intervals : bool, default=False
        Add a column per interval with its own output (networks only).
    alpha : float or None, default=None
        Add the conformal set (``set``: the labels joined by ``|``, empty when
        none) or interval (``lower``, ``upper``) at level ``1 - alpha``; the
        model must end in a conformal wrapper (``conformal=`` of
        :func:`~sklearn_songpop.make_songpop_pipeline`, ``songpop train
        --conformal``).
    on_error : {"raise", "skip"}, default="raise"
        What a song that cannot be read does: stop with an
        :class:`~sklearn_songpop.AudioError`, or get a row whose ``problem``
        column says why, with no scores.
    names : sequence of str, optional
        The ``song`` column; default: the paths, or ``song_<i>``.
    pos_label : object, optional
        The class whose score or probability the table gives; default: the
        model's ``positive_class_`` (set by ``songpop train
        --positive-class``), else the last of its ``classes_``.

    Returns
    -------
    pandas.DataFrame
        ``song``; for a classifier ``p_<class>`` when the model's probabilities
        are calibrated and ``score_<class>`` when not (for the positive class,
        ``pos_label``), and ``class``; for a regressor ``predicted``;
        then ``novelty`` (a network's: the song's distance to its nearest
        training songs over a typical training song's own, 1 being typical)
        and ``beyond_training`` (further out than every training song), the
        set or interval, the intervals' outputs (``interval_<j>``, the network's
        own scores, never calibrated), and ``problem`` (empty, or why the song
        was not scored).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import make_songpop_pipeline, make_songs
    >>> songs = make_songs(n_songs=12, n_artists=4, duration=4.0, random_state=0)
    >>> pipe = make_songpop_pipeline("paper", random_state=0, intervals__duration=1.0,
    ...                              classifier__max_epochs=1).fit(songs.waveforms, songs.y)
    >>> table = predict_table(pipe, songs.waveforms[:2])
    >>> list(table.columns)
    ['song', 'score_1', 'class', 'novelty', 'beyond_training', 'problem']
    """
    import pandas as pd

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    try:
        parts = model_parts(model)
    except TypeError as exc:
        raise TypeError(f"model: {exc}") from exc
    if alpha is not None and parts.conformal is None:
        raise ValueError("alpha: this model has no conformal calibration; train it with "
                         "conformal=alpha (songpop train --conformal ALPHA)")
    if intervals and not parts.by_interval:
        raise ValueError(f"intervals: this model ends in a {type(parts.model).__name__} on "
                         "song embeddings, which scores whole songs only")
    songs = list(songs) if not isinstance(songs, np.ndarray) else songs
    names = [str(s) if isinstance(s, (str, bytes)) or hasattr(s, "__fspath__")
             else f"song_{i}" for i, s in enumerate(songs)] if names is None else list(names)
    if len(names) != len(songs):
        raise ValueError(f"names has {len(names)} entries but there are {len(songs)} songs")
    Xi, problems = _front(parts.front, songs, on_error)
    ok = np.array([i not in problems for i in range(len(songs))], bool)
    columns = {"song": names}
    if ok.any():
        columns.update(_scores(parts, Xi, intervals, alpha,
                               getattr(model, POSITIVE_ATTRIBUTE, None)
                               if pos_label is None else pos_label))
    table = pd.DataFrame({key: _spread(values, ok) if key != "song" else values
                          for key, values in columns.items()})
    table["problem"] = [problems.get(i, "") for i in range(len(songs))]
    return table


def _front(front, songs, on_error):
    """The front end's output for the readable songs, and why the others are not."""
    try:
        return front.transform(songs), {}
    except AudioError as exc:
        if on_error == "raise":
            raise
        first = exc
    problems, kept = {}, []
    for i in range(len(songs)):  # one at a time, to tell the bad ones from the rest
        try:
            kept.append(front.transform(songs[i:i + 1])[0])
        except AudioError as exc:
            problems[i] = exc.reason
    if not kept:
        raise first
    return np.stack(kept), problems


def _scores(parts: ModelParts, Xi, intervals: bool, alpha, pos_label) -> dict:
    """The columns of the scored songs."""
    out = {}
    last = parts.last
    if parts.task == "classification":
        proba = last.predict_proba(Xi)
        classes = list(last.classes_)
        pos = len(classes) - 1 if pos_label is None else _class_index(classes, pos_label)
        kind = "p" if parts.calibrated else "score"
        out[f"{kind}_{classes[pos]}"] = proba[:, pos]
        out["class"] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    else:
        predicted = np.asarray(last.predict(Xi), float)
        out["predicted"] = predicted
    if parts.novelty and parts.by_interval:
        out["novelty"] = parts.model.novelty(Xi, scale="distance")
        out["beyond_training"] = parts.model.novelty(Xi) >= WARN_AT
    if alpha is not None:
        if parts.task == "classification":
            sets = parts.conformal.sets_from_proba(proba, alpha)
            out["set"] = np.array(["|".join(str(c) for c, inside in zip(classes, row) if inside)
                                   for row in sets], dtype=object)
        else:
            bounds = parts.conformal.intervals_from_predictions(predicted, alpha)
            out["lower"], out["upper"] = bounds[:, 0], bounds[:, 1]
    if intervals:
        values = (parts.model.predict_interval_proba(Xi)[:, :, pos]
                  if parts.task == "classification" else parts.model.predict_interval(Xi))
        for j in range(values.shape[1]):
            out[f"interval_{j}"] = values[:, j]
    return out


def _class_index(classes: list, label) -> int:
    """The column of ``label`` among ``classes``, matched as is or as text."""
    for i, c in enumerate(classes):
        if c == label or str(c) == str(label):
            return i
    raise ValueError(f"pos_label {label!r} is not one of the model's classes {classes}")


def _spread(values, ok):
    """A column over all songs: the scored songs' values, and None for the others."""
    values = np.asarray(values)
    if ok.all():
        return values
    full = np.full(len(ok), None, dtype=object)
    full[ok] = values
    return full
