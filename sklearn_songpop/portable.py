"""The pickle-free model format: settings as JSON, network weights as tensors.

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
from sklearn_songpop.persistence import versions
from sklearn_songpop.regressor import SpectrogramCNNRegressor
from sklearn_songpop.spectrogram import SpectrogramTransformer

__all__ = ["load_portable", "save_portable"]


_NETS = ("PaperCNN", "SongpopCNN")


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
    network = clf.get_portable_state()
    settings = {
        "format": "sklearn_songpop portable model 1",
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
