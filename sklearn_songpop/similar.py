"""Songs like this one: nearest neighbours of song embeddings over a catalogue."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted

__all__ = ["SongNeighbors"]


class SongNeighbors(BaseEstimator):
    """Find the songs of a catalogue whose embeddings are closest to a song's.

    Parameters
    ----------
    embedder : fitted transformer
        Turns songs into embeddings ``(n_songs, dim)``, typically a fitted
        pipeline of :class:`~sklearn_songpop.IntervalSampler`,
        :class:`~sklearn_songpop.SpectrogramTransformer` and
        :class:`~sklearn_songpop.ContrastiveEncoder` (what ``songpop
        pretrain`` saves), so songs can be given as paths or waveforms. It
        is used as it is, never refitted.
    n_neighbors : int, default=10
        Songs returned per query.
    metric : str, default="cosine"
        Distance between embeddings, as scikit-learn's
        :class:`~sklearn.neighbors.NearestNeighbors` takes it; the
        contrastive loss compares directions, so cosine suits its embeddings.

    Attributes
    ----------
    embeddings_ : ndarray of shape (n_catalogue, dim)
        The catalogue's embeddings.
    names_ : ndarray of shape (n_catalogue,)
        The catalogue's song names (paths, unless given).
    index_ : NearestNeighbors
        The fitted search structure.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> embed = FunctionTransformer(lambda X: np.asarray(X, dtype=float))
    >>> catalogue = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]]
    >>> nn = SongNeighbors(embed, n_neighbors=2).fit(catalogue, names=["a", "b", "c"])
    >>> [name for name, _ in nn.similar([[1.0, 0.02]])[0]]
    ['a', 'c']
    """

    def __init__(self, embedder, n_neighbors: int = 10, metric: str = "cosine") -> None:
        self.embedder = embedder
        self.n_neighbors = n_neighbors
        self.metric = metric

    def _embed(self, songs) -> np.ndarray:
        embeddings = np.asarray(self.embedder.transform(songs), dtype=np.float64)
        if embeddings.ndim != 2:
            raise ValueError(
                f"the embedder gave an array of shape {embeddings.shape}; it must give one "
                "embedding per song, (n_songs, dim)"
            )
        return embeddings

    def fit(self, songs, y=None, names: Sequence[str] | None = None):
        """Embed the catalogue and index it.

        Parameters
        ----------
        songs : sequence
            The catalogue, as the embedder takes it (paths or waveforms).
        y : ignored
        names : sequence of str or None, default=None
            A name per song; None names paths by themselves and other songs
            by their position.

        Returns
        -------
        self
        """
        if isinstance(self.n_neighbors, bool) or not isinstance(self.n_neighbors, int) \
                or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {self.n_neighbors!r}")
        n = len(songs)
        if n == 0:
            raise ValueError("the catalogue holds no songs")
        if names is None:
            names = [s if isinstance(s, str) else str(i) for i, s in enumerate(songs)]
        if len(names) != n:
            raise ValueError(f"names holds {len(names)} names for {n} songs")
        self.embeddings_ = self._embed(songs)
        self.names_ = np.asarray([str(name) for name in names], dtype=object)
        self.index_ = NearestNeighbors(metric=self.metric).fit(self.embeddings_)
        return self

    def kneighbors(self, songs, n_neighbors: int | None = None):
        """Distances to and positions of the closest catalogue songs.

        Parameters
        ----------
        songs : sequence
            Query songs, as the embedder takes them.
        n_neighbors : int or None, default=None
            None uses ``self.n_neighbors``; never more than the catalogue holds.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Increasing along each row.
        indices : ndarray of shape (n_queries, n_neighbors)
            Positions in the catalogue.
        """
        check_is_fitted(self, "index_")
        k = min(int(n_neighbors or self.n_neighbors), len(self.names_))
        return self.index_.kneighbors(self._embed(songs), n_neighbors=k)

    def similar(self, songs, n_neighbors: int | None = None) -> list[list[tuple[str, float]]]:
        """The closest catalogue songs of each query, as (name, distance) pairs.

        Parameters
        ----------
        songs : sequence
            Query songs, as the embedder takes them.
        n_neighbors : int or None, default=None

        Returns
        -------
        list of list of (str, float)
            One list per query, closest first.
        """
        distances, indices = self.kneighbors(songs, n_neighbors)
        return [[(self.names_[i], float(d)) for d, i in zip(row_d, row_i)]
                for row_d, row_i in zip(distances, indices)]
