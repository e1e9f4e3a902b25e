"""The pickle-free model format: settings as JSON, weights as tensors and arrays.

Loading runs no code stored in the files (``torch.load(weights_only=True)``,
``np.load(allow_pickle=False)``). Joblib files and their version checks are
:mod:`sklearn_songpop.persistence`'s.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from sklearn_songpop import nets
from sklearn_songpop._json import to_json_types
from sklearn_songpop.classifier import SpectrogramCNNClassifier
from sklearn_songpop.intervals import IntervalSampler
from sklearn_songpop.musicnn import MusicnnEmbedding
from sklearn_songpop.persistence import versions
from sklearn_songpop.regressor import SpectrogramCNNRegressor
from sklearn_songpop.spectrogram import SpectrogramTransformer

__all__ = ["load_portable", "save_portable"]


_NETS = ("PaperCNN", "SongpopCNN")
_FORMAT = "sklearn_songpop portable model 1"
#: What a linear head (the musicnn preset's) keeps, by step, in ``head.npz``.
_HEAD_ARRAYS = {"scale": ("mean_", "scale_", "var_"),
                "classifier": ("coef_", "intercept_", "classes_"),
                "regressor": ("coef_", "intercept_")}


def save_portable(pipeline, folder: str | os.PathLike) -> Path:
    """Save a fitted pipeline as settings (JSON) and network weights, with no pickle.

    Loading these files runs no code stored in them: ``settings.json`` holds
    the parameters of the three steps, the classes (or the regressor's target
    scaling) and the input shape; ``weights.pt`` holds the network's tensors,
    read back with ``torch.load(weights_only=True)``; ``novelty.npz`` holds
    the arrays of the novelty score's reference, read back without pickle.

    A pipeline of the ``"musicnn"`` preset saves the settings of its sampler
    and its embedding in ``settings.json`` and the arrays of its scaler and
    linear model in ``head.npz`` (musicnn's weights ship with the package).

    Parameters
    ----------
    pipeline : Pipeline
        Fitted, with steps ``intervals``, ``spectrogram`` and ``classifier``
        (or ``regressor``) whose network is
        :class:`~sklearn_songpop.nets.PaperCNN` or
        :class:`~sklearn_songpop.nets.SongpopCNN`; or as the ``"musicnn"``
        preset makes it.
    folder : str or os.PathLike
        Created when missing.

    Returns
    -------
    pathlib.Path
        The folder.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from sklearn_songpop import make_songs, make_songpop_pipeline
    >>> songs = make_songs(n_songs=8, n_artists=2, duration=4.0, random_state=0)
    >>> pipe = make_songpop_pipeline(random_state=0, classifier__max_epochs=1,
    ...                              classifier__train_split=None, classifier__callbacks=None)
    >>> pipe = pipe.fit(np.stack(songs.waveforms), songs.y)
    >>> folder = save_portable(pipe, tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.iterdir())
    ['novelty.npz', 'settings.json', 'weights.pt']
    >>> again = load_portable(folder)
    >>> np.allclose(again.predict_proba(np.stack(songs.waveforms)),
    ...             pipe.predict_proba(np.stack(songs.waveforms)), atol=1e-6)
    True
    >>> np.array_equal(again[-1].novelty(again[:-1].transform(np.stack(songs.waveforms))),
    ...                pipe[-1].novelty(pipe[:-1].transform(np.stack(songs.waveforms))))
    True
    """
    steps = dict(pipeline.steps)
    if "embedding" in steps:
        return _save_linear(pipeline, Path(folder))
    last = "regressor" if "regressor" in steps else "classifier"
    missing = {"intervals", "spectrogram", last} - set(steps)
    if missing:
        raise ValueError(f"the pipeline lacks the step(s) {sorted(missing)}")
    clf = steps[last]
    clf.check_is_fitted()
    module = clf.module if isinstance(clf.module, type) else type(clf.module)
    if module.__name__ not in _NETS:
        raise ValueError(f"only {_NETS} can be saved without pickle, not {module.__name__}")
    network = clf.get_portable_state()
    settings = {
        "format": _FORMAT,
        "versions": versions(),
        "intervals": to_json_types(steps["intervals"].get_params()),
        "spectrogram": to_json_types(steps["spectrogram"].get_params()),
        last: network,
    }
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
    state = {k: v.detach().cpu() for k, v in clf.module_.state_dict().items()}
    torch.save(state, folder / "weights.pt")
    reference = getattr(clf, "novelty_reference_", None)
    if reference is not None:  # arrays only: np.load reads them without pickle
        np.savez(folder / "novelty.npz", **reference)
    return folder


def load_portable(folder: str | os.PathLike):
    """Load a pipeline saved by :func:`save_portable`, running no stored code.

    Parameters
    ----------
    folder : str or os.PathLike
        Holding ``settings.json`` and ``weights.pt`` (and ``novelty.npz``
        when the network kept training songs for its novelty score), or
        ``settings.json`` and ``head.npz`` for the ``"musicnn"`` preset.

    Returns
    -------
    Pipeline
        Ready to predict; its classifier (or regressor) has no training
        history, callbacks or validation split (set them before fitting it
        again).

    Examples
    --------
    See :func:`save_portable`.
    """
    folder = Path(folder)
    try:
        settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{folder}: no settings.json") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{folder / 'settings.json'}: not valid JSON ({exc})") from exc
    if settings.get("format") != _FORMAT:
        raise ValueError(f"{folder / 'settings.json'}: not a sklearn_songpop portable model")
    if "embedding" in settings:
        return _load_linear(settings, folder)
    last = "regressor" if "regressor" in settings else "classifier"
    c = settings[last]
    if c["module"] not in _NETS:
        raise ValueError(f"{folder / 'settings.json'}: unknown network {c['module']!r}")
    spec_params = dict(settings["spectrogram"])
    if spec_params.get("output_shape") is not None:
        spec_params["output_shape"] = tuple(spec_params["output_shape"])
    sampler = IntervalSampler(**settings["intervals"])
    sampler.fit([np.zeros(1, np.float32)])
    spectrogram = SpectrogramTransformer(**spec_params).fit(
        np.zeros((1, sampler.n_samples_), np.float32))
    estimator = SpectrogramCNNRegressor if last == "regressor" else SpectrogramCNNClassifier
    clf = estimator.from_portable_state(c, getattr(nets, c["module"]))
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    clf.module_.load_state_dict(state)
    if (folder / "novelty.npz").is_file():
        with np.load(folder / "novelty.npz", allow_pickle=False) as saved:
            clf.novelty_reference_ = Bunch(**{k: saved[k] for k in saved.files})
        clf.novelty_reference_.n_neighbors = int(clf.novelty_reference_.n_neighbors)
        # a classifier saved before December 2026 kept the softmax of its embeddings
        default = "softmax" if last == "classifier" else "embedding"
        clf.novelty_reference_.space = str(clf.novelty_reference_.get("space", default))
    return Pipeline([("intervals", sampler), ("spectrogram", spectrogram), (last, clf)])


def _save_linear(pipeline, folder: Path) -> Path:
    """The musicnn preset: the sampler's and the embedding's settings, and the arrays of
    the scaler and the linear model (musicnn's weights ship with the package)."""
    from sklearn.linear_model import LogisticRegression, RidgeCV

    steps = dict(pipeline.steps)
    last = "regressor" if "regressor" in steps else "classifier"
    kinds = {"classifier": LogisticRegression, "regressor": RidgeCV}
    if [name for name, _ in pipeline.steps] != ["intervals", "embedding", "scale", last] \
            or type(steps[last]) is not kinds[last]:
        raise ValueError(
            "a pipeline on an embedding saves without pickle only as the musicnn preset "
            "makes it: intervals, embedding, scale and a LogisticRegression classifier (or "
            f"a RidgeCV regressor); got {[(n, type(s).__name__) for n, s in pipeline.steps]}")
    arrays = {f"{name}.{attr}": np.asarray(getattr(steps[name], attr))
              for name, attrs in _HEAD_ARRAYS.items() if name in steps
              for attr in attrs if hasattr(steps[name], attr)}
    if f"{last}.coef_" not in arrays:
        raise ValueError(f"the pipeline's {last} is not fitted")
    settings = {
        "format": _FORMAT,
        "versions": versions(),
        "intervals": to_json_types(steps["intervals"].get_params()),
        "embedding": to_json_types(steps["embedding"].get_params()),
        "head": {"task": last, "params": to_json_types(steps[last].get_params()),
                 "alpha_": to_json_types(getattr(steps[last], "alpha_", None))},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
    np.savez(folder / "head.npz", **arrays)
    return folder


def _load_linear(settings: dict, folder: Path) -> Pipeline:
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.preprocessing import StandardScaler

    head = settings["head"]
    last = head["task"]
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in head["params"].items()}
    model = (LogisticRegression if last == "classifier" else RidgeCV)(**params)
    scale = StandardScaler()
    try:
        saved = np.load(folder / "head.npz", allow_pickle=False)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{folder}: no head.npz") from exc
    with saved:
        for key in saved.files:
            name, attr = key.split(".", 1)
            setattr(scale if name == "scale" else model, attr, saved[key])
    n = int(scale.mean_.shape[0])
    scale.n_features_in_ = model.n_features_in_ = n
    scale.n_samples_seen_ = 0  # not kept: a copy that trains again refits the scaler
    if head.get("alpha_") is not None:
        model.alpha_ = head["alpha_"]
    sampler = IntervalSampler(**settings["intervals"])
    sampler.fit([np.zeros(1, np.float32)])
    embedding = MusicnnEmbedding(**settings["embedding"]).fit([np.zeros(16, np.float32)])
    return Pipeline([("intervals", sampler), ("embedding", embedding), ("scale", scale),
                     (last, model)])
