"""What a song network reads: stacks of spectrograms, one row per song, or a store.

:func:`check_songs` turns what a user passes to ``fit`` or ``predict`` into
``(n_songs, k, n_bins, n_frames)`` float arrays (float16 kept), a complete
:class:`~sklearn_songpop.FeatureStore` into a dataset read a few chunks at a
time, and checks the spectrogram shape against the one a network was fitted
on. It learns nothing itself: the network keeps what it returns.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_array
from skorch.utils import is_dataset

from sklearn_songpop.store import FeatureStore, StoreDataset

__all__ = ["check_songs"]


def check_songs(X, *, input_shape=None, fitted_shape=None, n_features_in=None,
                training: bool = False, owner: str = "SongNet"):
    """Checked songs, and their layout.

    Parameters
    ----------
    X : array-like, Tensor, FeatureStore or torch Dataset
        ``(n_songs, k, n_bins, n_frames)``, ``(n_songs, n_bins, n_frames)``
        (k = 1), or 2-D rows of flattened spectrograms shaped by
        ``input_shape``. A torch Dataset passes through unchecked.
    input_shape : tuple or None, default=None
        ``(n_bins, n_frames)`` or ``(k, n_bins, n_frames)`` of 2-D rows.
    fitted_shape : tuple or None, default=None
        ``(k, n_bins, n_frames)`` the network was fitted on; new songs must
        have the same ``(n_bins, n_frames)`` (their number of intervals may differ).
    n_features_in : int or None, default=None
        Columns of the rows the network was fitted on, named in the error for 2-D rows.
    training : bool, default=False
        Training needs at least two songs.
    owner : str, default="SongNet"
        The estimator's name, for the errors.

    Returns
    -------
    X : ndarray of shape (n_songs, k, n_bins, n_frames), StoreDataset or Dataset
    n_features : int or None
        Columns of the rows as given (``k`` for stacks); None for a plain dataset.
    input_shape : tuple or None
        ``(k, n_bins, n_frames)``; None for a plain dataset.

    Examples
    --------
    >>> X, n_features, input_shape = check_songs(np.zeros((3, 16, 20)))
    >>> X.shape, n_features, input_shape
    ((3, 1, 16, 20), 16, (1, 16, 20))
    """
    if isinstance(X, FeatureStore):
        return _store_songs(X, fitted_shape, training, owner)
    if is_dataset(X):
        return X, None, None
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    keep = getattr(X, "dtype", None) == np.float16
    X = check_array(X, dtype=np.float16 if keep else np.float32, allow_nd=True,
                    ensure_min_features=1, input_name="X")
    n_cols = X.shape[1]
    if X.ndim == 2:
        X = _shape_rows(X, input_shape)
    elif X.ndim == 3:
        X = X[:, None]
    elif X.ndim != 4:
        raise ValueError(
            "X must be (n_songs, k, n_bins, n_frames), (n_songs, n_bins, n_frames) or "
            f"2-D flattened spectrograms; got shape {X.shape}"
        )
    if training and len(X) < 2:
        raise ValueError(
            f"X holds {len(X)} song (n_samples = {len(X)}); training needs at least "
            "2 songs (batch norm compares the songs of a batch)"
        )
    # the number of intervals may differ: a song's prediction averages over them
    if fitted_shape is not None and tuple(X.shape[2:]) != tuple(fitted_shape[1:]):
        if X.shape[1:3] == (1, 1):
            raise ValueError(f"X has {n_cols} features, but {owner} is expecting "
                             f"{n_features_in} features as input.")
        raise ValueError(
            f"X holds spectrograms of shape {tuple(X.shape[2:])} (n_bins, n_frames), "
            f"but {owner} was fitted on {tuple(fitted_shape[1:])}; transform new "
            "songs with the same IntervalSampler and SpectrogramTransformer settings"
        )
    return X, n_cols, tuple(X.shape[1:])


def _shape_rows(X: np.ndarray, input_shape) -> np.ndarray:
    """2-D rows as stacks: ``(n, 1, 1, n_cols)``, or shaped by ``input_shape``."""
    if input_shape is None:
        return X.reshape(X.shape[0], 1, 1, X.shape[1])
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (2, 3) or int(np.prod(shape)) != X.shape[1]:
        raise ValueError(
            f"input_shape={input_shape!r} does not fit rows of {X.shape[1]} values: give "
            "(n_bins, n_frames) or (k, n_bins, n_frames) whose product is the row length"
        )
    return X.reshape(X.shape[0], *((1,) if len(shape) == 2 else ()), *shape)


def _store_songs(store: FeatureStore, fitted_shape, training: bool, owner: str):
    """A complete store's written songs as a dataset, its shape checked."""
    shape = tuple(store.shape[1:])
    if training and len(store.rows) < 2:
        raise ValueError(f"{store.path}: {len(store.rows)} written song(s); training "
                         "needs at least 2")
    if fitted_shape is not None and shape[1:] != tuple(fitted_shape[1:]):
        raise ValueError(
            f"{store.path} holds spectrograms of shape {shape[1:]} (n_bins, n_frames), but "
            f"{owner} was fitted on {tuple(fitted_shape[1:])}"
        )
    return StoreDataset(store), shape[0], shape
