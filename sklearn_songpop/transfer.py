"""Where ``init_from`` finds the body a song network starts from.

A fitted encoder or song network, a pipeline ending in one, a frozen one, or
the file one was saved to: :func:`body_state_from` turns each into the body's
tensors. It knows networks only as skorch nets whose module has a body.
"""

from __future__ import annotations

import os
import warnings

import torch
from skorch import NeuralNet

from sklearn_songpop.persistence import load_model

__all__ = ["body_state_from"]


def body_state_from(source) -> dict[str, torch.Tensor]:
    """The body tensors to start a network from, for ``init_from``.

    Parameters
    ----------
    source : estimator, Pipeline, FrozenEstimator, str or os.PathLike
        A fitted :class:`~sklearn_songpop.ContrastiveEncoder` or song network,
        a pipeline ending in one, a ``FrozenEstimator`` of either, or the path
        of a file saved with joblib or :func:`~sklearn_songpop.save_model`.

    Returns
    -------
    dict of str to Tensor
        Copies on the CPU, keyed as in a
        :class:`~sklearn_songpop.nets.SongpopCNN`'s ``state_dict``.

    Raises
    ------
    FileNotFoundError, ValueError
        For a missing or unreadable file, an unfitted estimator, or one
        whose network has no body to copy.

    Examples
    --------
    >>> body_state_from(42)
    Traceback (most recent call last):
    ...
    ValueError: init_from must be a fitted ContrastiveEncoder or song network, ...; got int
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    if isinstance(source, (str, os.PathLike)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # versions and devices: only the weights matter
            try:
                source = load_model(source)
            except FileNotFoundError as exc:
                raise FileNotFoundError(f"init_from: {exc}") from exc
            except ValueError as exc:
                raise ValueError(f"init_from: {exc}") from exc
    if isinstance(source, FrozenEstimator):
        source = source.estimator
    if isinstance(source, Pipeline):
        source = source.steps[-1][1]
        if isinstance(source, FrozenEstimator):
            source = source.estimator
    if not isinstance(source, NeuralNet):
        raise ValueError(
            "init_from must be a fitted ContrastiveEncoder or song network, a pipeline ending "
            f"in one, or the path of a saved one; got {type(source).__name__}"
        )
    module = getattr(source, "module_", None)
    if module is None or not getattr(source, "initialized_", False) \
            or not hasattr(source, "input_shape_"):
        raise ValueError(
            f"init_from: the {type(source).__name__} is not fitted. clone() (used by "
            "GridSearchCV and cross_validate) makes unfitted copies of estimators given as "
            "parameters: give the path of the saved encoder, or FrozenEstimator(encoder)"
        )
    if not hasattr(module, "body_state_dict"):
        raise ValueError(
            f"init_from: the network of the {type(source).__name__} "
            f"({type(module).__name__}) has no body to copy"
        )
    return {k: v.detach().cpu().clone() for k, v in module.body_state_dict().items()}
