"""Saving and loading fitted models with joblib, with the versions they were made with.

The pickle-free format is :mod:`sklearn_songpop.portable`'s; this module knows no
estimator of ours, so every estimator may use it.
"""

from __future__ import annotations

import os
import warnings

import joblib

__all__ = ["VERSIONS_ATTRIBUTE", "VersionMismatchWarning", "load_model", "save_model",
           "versions"]

#: Where :func:`save_model` keeps the library versions on the saved model itself.
VERSIONS_ATTRIBUTE = "songpop_versions_"


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

    The file holds the model itself, so ``joblib.load`` gives it back as it
    was; the versions ride on it as the attribute ``songpop_versions_``, which
    :func:`load_model` compares with the running ones.

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
    >>> import joblib
    >>> type(joblib.load(path)).__name__
    'DummyClassifier'
    """
    setattr(model, VERSIONS_ATTRIBUTE, versions())
    try:
        joblib.dump(model, path, compress=compress)
    finally:
        delattr(model, VERSIONS_ATTRIBUTE)


def load_model(path: str | os.PathLike):
    """Load a model saved by :func:`save_model`, in this version or before, or a plain
    joblib dump of one.

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
        model, saved = content["model"], content["versions"]  # saved before December 2026
    else:
        model, saved = content, getattr(content, VERSIONS_ATTRIBUTE, None)
    if isinstance(saved, dict):
        now = versions()
        changed = {k: (v, now.get(k)) for k, v in saved.items() if now.get(k) != v}
        if changed:
            text = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items())
            warnings.warn(
                f"{os.fspath(path)} was saved under other library versions ({text}); "
                "predictions may differ or fail", VersionMismatchWarning, stacklevel=2,
            )
    return model
