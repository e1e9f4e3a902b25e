"""The novelty score's arithmetic: distances to the nearest training songs, as percentiles.

Shared by the song networks (which keep a reference at fit time) and the
portable format (which saves it); it knows nothing of networks or audio.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import Bunch

#: Neighbours whose mean distance measures how far out a song lies.
N_NEIGHBORS = 5

#: The novelty from which the command line warns: further out than every training song.
#: Lower values flag ordinary new songs: songs of an artist the model never heard
#: lie further out than most training songs, whose nearest neighbours are often
#: songs of their own artist (see the user guide's "Why did it say that?").
WARN_AT = 1.0


def fit_reference(embeddings: np.ndarray, n_neighbors: int = N_NEIGHBORS,
                  space: str = "embedding") -> Bunch:
    """Standardise the training songs' embeddings and record their own neighbour distances.

    Parameters
    ----------
    embeddings : ndarray of shape (m, d)
        One row per kept training song.
    n_neighbors : int, default=5
    space : str, default="embedding"
        What the embeddings are, recorded so new songs are embedded alike:
        ``"embedding"``, or ``"softmax"`` for classifiers' references kept
        before December 2026, which were the softmax of the embeddings.

    Returns
    -------
    Bunch
        ``mean`` and ``scale`` (d,), the standardised ``embeddings`` (m, d)
        float32, ``distances`` (m,) sorted: each song's mean distance to its
        nearest other songs, ``n_neighbors`` and ``space``.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    mean = emb.mean(axis=0)
    scale = emb.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = ((emb - mean) / scale).astype(np.float32)
    k = int(min(n_neighbors, len(z) - 1))
    if k < 1:  # one song: nothing to compare it with
        distances = np.empty(0)
    else:
        dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z)
        distances = np.sort(dist[:, 1:].mean(axis=1))  # column 0 is the song itself
    return Bunch(mean=mean.astype(np.float32), scale=scale.astype(np.float32), embeddings=z,
                 distances=distances.astype(np.float64), n_neighbors=max(k, 1), space=space)


def novelty_scores(reference: Bunch, embeddings: np.ndarray, scale: str = "share") -> np.ndarray:
    """How far out each song lies from the training songs.

    A song's distance is the mean distance to its nearest training songs,
    after standardising each dimension, as each training song's own distance
    to its nearest others was measured.

    Parameters
    ----------
    reference : Bunch
        From :func:`fit_reference`.
    embeddings : ndarray of shape (n, d)
    scale : {"share", "distance"}, default="share"
        ``"share"``: the share of training songs that lie closer to their
        neighbours than the song does, in [0, 1]; it reaches 1 for anything
        beyond the farthest training song. ``"distance"``: the song's
        distance over the median of the training songs' own, which keeps
        ranking beyond them (1 is a typical training song, 3 three times as
        far out).

    Returns
    -------
    ndarray of shape (n,)
        NaN where the reference holds fewer than two songs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> reference = fit_reference(rng.standard_normal((200, 2)))
    >>> far = np.array([[8.0, 0.0], [16.0, 0.0]])
    >>> novelty_scores(reference, far).tolist()
    [1.0, 1.0]
    >>> d = novelty_scores(reference, far, scale="distance")
    >>> bool(d[1] > d[0] > 10)
    True
    """
    if scale not in ("share", "distance"):
        raise ValueError(f"scale must be 'share' or 'distance', got {scale!r}")
    emb = np.asarray(embeddings, dtype=np.float64)
    if len(reference.distances) == 0:
        return np.full(len(emb), np.nan)
    z = ((emb - reference.mean) / reference.scale).astype(np.float32)
    k = int(min(reference.n_neighbors, len(reference.embeddings)))
    dist, _ = NearestNeighbors(n_neighbors=k).fit(reference.embeddings).kneighbors(z)
    mean_dist = dist.mean(axis=1)
    if scale == "distance":
        typical = float(np.median(reference.distances))
        return mean_dist / (typical if typical > 0 else 1.0)
    return np.searchsorted(reference.distances, mean_dist, side="left") / len(
        reference.distances)
