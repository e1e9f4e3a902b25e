"""Saving and loading fitted models, with the versions they were made with."""

from __future__ import annotations

import inspect
import json
import os
import warnings
from pathlib import Path

import joblib
import numpy as np

__all__ = [
    "VersionMismatchWarning",
    "load_encoder",
    "load_model",
    "load_portable",
    "save_model",
    "save_portable",
    "versions",
]


class VersionMismatchWarning(UserWarning):
    """A model is loaded under other library versions than it was saved with.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", VersionMismatchWarning)  # make it an error
    ...     issubclass(VersionMismatchWarning, UserWarning)
    True"""


def versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on.

    Returns
    -------
    dict of str to str
        ``sklearn_songpop``, ``sklearn``, ``skorch``, ``torch`` and ``numpy``.
    """
    import numpy
    import sklearn
    import skorch
    import torch

    from sklearn_songpop._version import __version__

    return {
        "sklearn_songpop": __version__, "sklearn": sklearn.__version__,
        "skorch": skorch.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
    }


def save_model(model, path: str | os.PathLike, compress: int = 3) -> None:
    """Save a fitted model with joblib, recording the library versions.

    Parameters
    ----------
    model : estimator
        Typically a fitted pipeline.
    path : str or os.PathLike
        The file.
    compress : int, default=3
        joblib's compression level.

    Notes
    -----
    The file is a pickle: loading it runs code stored in it. Load only files
    you made or trust.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> path = os.path.join(tempfile.mkdtemp(), "model.joblib")
    >>> save_model(DummyClassifier().fit([[0], [1]], [0, 1]), path)
    >>> load_model(path).predict([[5]]).tolist()
    [0]
    """
    joblib.dump({"model": model, "versions": versions()}, path, compress=compress)


def load_model(path: str | os.PathLike):
    """Load a model saved by :func:`save_model` (or a plain joblib dump of one).

    A model trained on a GPU loads on a machine without one: skorch maps its
    tensors to the CPU and says so with a ``DeviceWarning``.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    estimator

    Warns
    -----
    VersionMismatchWarning
        When a library's version differs from the one it was saved with.

    Notes
    -----
    Loading a pickle runs code stored in it: load only files you made or trust.

    Examples
    --------
    See :func:`save_model`.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{os.fspath(path)}: model file not found")
    try:
        content = joblib.load(path)
    except Exception as exc:  # joblib and pickle raise many kinds
        raise ValueError(f"{os.fspath(path)}: not a model file ({exc})") from exc
    if isinstance(content, dict) and "model" in content and "versions" in content:
        now = versions()
        changed = {k: (v, now.get(k)) for k, v in content["versions"].items() if now.get(k) != v}
        if changed:
            text = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items())
            warnings.warn(
                f"{os.fspath(path)} was saved under other library versions ({text}); "
                "predictions may differ or fail", VersionMismatchWarning, stacklevel=2,
            )
        return content["model"]
    return content


def load_encoder(path: str | os.PathLike):
    """Load a fitted pretraining pipeline (``songpop pretrain``'s file) and check it.

    Parameters
    ----------
    path : str or os.PathLike
        A file saved with :func:`save_model` (or joblib) holding a fitted
        pipeline whose last step is a
        :class:`~sklearn_songpop.ContrastiveEncoder`, or such an encoder alone.

    Returns
    -------
    estimator
        What the file holds; its ``transform`` gives song embeddings.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    ValueError
        When the file is not a model, or holds something else than a fitted
        encoder (a classifier, say).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> path = os.path.join(tempfile.mkdtemp(), "model.joblib")
    >>> save_model(DummyClassifier().fit([[0], [1]], [0, 1]), path)
    >>> load_encoder(path)
    Traceback (most recent call last):
    ...
    ValueError: ...model.joblib: holds a DummyClassifier, not a pretrained encoder ...
    """
    from sklearn.pipeline import Pipeline

    from sklearn_songpop.pretraining import ContrastiveEncoder

    model = load_model(path)
    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if not isinstance(last, ContrastiveEncoder):
        raise ValueError(
            f"{os.fspath(path)}: holds a {type(last).__name__}, not a pretrained encoder "
            "(make one with songpop pretrain)"
        )
    if not getattr(last, "initialized_", False) or not hasattr(last, "input_shape_"):
        raise ValueError(f"{os.fspath(path)}: the encoder in it is not fitted")
    return model


_NETS = ("PaperCNN", "SongpopCNN")
_RECIPE = ("crop_frames", "freq_mask", "time_mask", "n_masks", "gain_db", "filter_db",
           "mixup")


def _plain(value):
    """Settings as JSON types; tuples become lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {value!r} ({type(value).__name__}) as JSON")


def save_portable(pipeline, folder: str | os.PathLike) -> Path:
    """Save a fitted pipeline as settings (JSON) and network weights, with no pickle.

    Loading these files runs no code stored in them: ``settings.json`` holds
    the parameters of the three steps, the classes (or the regressor's target
    scaling) and the input shape; ``weights.pt`` holds the network's tensors,
    read back with ``torch.load(weights_only=True)``; ``novelty.npz`` holds
    the arrays of the novelty score's reference, read back without pickle.

    Parameters
    ----------
    pipeline : Pipeline
        Fitted, with steps ``intervals``, ``spectrogram`` and ``classifier``
        (or ``regressor``) whose network is
        :class:`~sklearn_songpop.nets.PaperCNN` or
        :class:`~sklearn_songpop.nets.SongpopCNN`.
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
    import torch

    steps = dict(pipeline.steps)
    last = "regressor" if "regressor" in steps else "classifier"
    missing = {"intervals", "spectrogram", last} - set(steps)
    if missing:
        raise ValueError(f"the pipeline lacks the step(s) {sorted(missing)}")
    clf = steps[last]
    clf.check_is_fitted()
    module = clf.module if isinstance(clf.module, type) else type(clf.module)
    if module.__name__ not in _NETS:
        raise ValueError(f"only {_NETS} can be saved without pickle, not {module.__name__}")
    module_kwargs = dict(clf.get_params_for("module"))
    accepted = inspect.signature(module).parameters
    if "n_classes" in accepted:
        module_kwargs.setdefault("n_classes", clf._n_outputs())
    if "input_shape" in accepted:
        module_kwargs.setdefault("input_shape", list(clf.input_shape_[1:]))
    network = {
        "module": module.__name__,
        "module_kwargs": _plain(module_kwargs),
        "input_shape": _plain(clf.input_shape_),
        "n_features_in": int(clf.n_features_in_),
        "fast_path": _plain(clf.fast_path),
        "batch_size": int(clf.batch_size),
        # crop_frames shapes prediction; the augmentations only matter when fitting again
        "recipe": {name: _plain(getattr(clf, name)) for name in _RECIPE},
    }
    if last == "regressor":
        network["target"] = {"mean": float(clf.y_mean_), "scale": float(clf.y_scale_)}
    else:
        network["classes"] = _plain(clf.classes_.tolist())
    settings = {
        "format": "sklearn_songpop portable model 1",
        "versions": versions(),
        "intervals": _plain(steps["intervals"].get_params()),
        "spectrogram": _plain(steps["spectrogram"].get_params()),
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
        when the network kept training songs for its novelty score).

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
    import torch
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    from sklearn_songpop import nets
    from sklearn_songpop.classifier import SpectrogramCNNClassifier
    from sklearn_songpop.intervals import IntervalSampler
    from sklearn_songpop.regressor import SpectrogramCNNRegressor
    from sklearn_songpop.spectrogram import SpectrogramTransformer

    folder = Path(folder)
    try:
        settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{folder}: no settings.json") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{folder / 'settings.json'}: not valid JSON ({exc})") from exc
    if settings.get("format") != "sklearn_songpop portable model 1":
        raise ValueError(f"{folder / 'settings.json'}: not a sklearn_songpop portable model")
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
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in c["module_kwargs"].items()}
    estimator = SpectrogramCNNRegressor if last == "regressor" else SpectrogramCNNClassifier
    clf = estimator(getattr(nets, c["module"]), fast_path=c["fast_path"],
                    batch_size=c["batch_size"], **c.get("recipe", {}),
                    **{f"module__{k}": v for k, v in kwargs.items()})
    if last == "regressor":
        clf.y_mean_, clf.y_scale_ = c["target"]["mean"], c["target"]["scale"]
    else:
        clf.label_encoder_ = LabelEncoder()
        clf.label_encoder_.classes_ = np.asarray(c["classes"])
        clf.class_weight_ = None
    clf.input_shape_ = tuple(c["input_shape"])
    clf.n_features_in_ = c["n_features_in"]
    clf.initialize()
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    clf.module_.load_state_dict(state)
    clf.novelty_reference_ = None
    if (folder / "novelty.npz").is_file():
        with np.load(folder / "novelty.npz", allow_pickle=False) as saved:
            clf.novelty_reference_ = Bunch(**{k: saved[k] for k in saved.files})
        clf.novelty_reference_.n_neighbors = int(clf.novelty_reference_.n_neighbors)
    return Pipeline([("intervals", sampler), ("spectrogram", spectrogram), (last, clf)])
