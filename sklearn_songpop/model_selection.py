"""Splitters of our own: evaluation forward in time.

A model that will score next year's songs should be judged on songs released
after every song it learned from; a shuffled split lets it learn from the
future. :class:`ReleaseYearSplit` gives those folds to any scikit-learn tool
that takes a ``cv``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils.validation import check_array

__all__ = ["ReleaseYearSplit"]


class ReleaseYearSplit(BaseCrossValidator):
    """Train on the songs released before a year, test on the songs of that year.

    With ``groups`` holding each song's release year, fold ``i`` tests on the
    songs of the ``i``-th of the last ``n_splits`` years and trains on every
    song released before it, so the training set grows from fold to fold, as
    with scikit-learn's ``TimeSeriesSplit``, but by year rather than by row.

    Parameters
    ----------
    n_splits : int, default=3
        Folds; the test years are the last ``n_splits`` distinct years.
    exclude_test_artists : bool, default=False
        Also keep the test year's artists out of training, so that knowing an
        artist cannot stand in for knowing the sound of the time: artist
        leakage and time leakage add up. ``groups`` must then hold a (year,
        artist) pair per song.

    Notes
    -----
    The splitter requests ``groups`` under scikit-learn's metadata routing,
    like ``GroupKFold``. Years may be any values that sort in time (integers,
    or strings such as ``"2019-Q3"``).

    Examples
    --------
    >>> import numpy as np
    >>> years = np.array([2019, 2019, 2020, 2020, 2021, 2022, 2022])
    >>> for train, test in ReleaseYearSplit(n_splits=2).split(years, groups=years):
    ...     print(train.tolist(), test.tolist())
    [0, 1, 2, 3] [4]
    [0, 1, 2, 3, 4] [5, 6]
    >>> artists = np.array(["a", "b", "a", "c", "b", "c", "d"])
    >>> cv = ReleaseYearSplit(n_splits=1, exclude_test_artists=True)
    >>> [(tr.tolist(), te.tolist()) for tr, te in cv.split(years, groups=np.c_[years, artists])]
    [([0, 1, 2, 4], [5, 6])]
    """

    __metadata_request__split = {"groups": True}

    def __init__(self, n_splits: int = 3, *, exclude_test_artists: bool = False) -> None:
        self.n_splits = n_splits
        self.exclude_test_artists = exclude_test_artists

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """The number of folds.

        Parameters
        ----------
        X, y, groups : ignored
            For compatibility with scikit-learn.

        Returns
        -------
        int
        """
        self._check_params()
        return int(self.n_splits)

    def _check_params(self) -> None:
        n = self.n_splits
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
            raise ValueError(f"n_splits must be a positive integer, got {n!r}")
        if not isinstance(self.exclude_test_artists, (bool, np.bool_)):
            raise ValueError("exclude_test_artists must be True or False, got "
                             f"{self.exclude_test_artists!r}")

    def _years_and_artists(self, groups, n_samples: int):
        if groups is None:
            raise ValueError(
                "ReleaseYearSplit needs groups: each song's release year"
                + (", with its artist (groups of shape (n_songs, 2))"
                   if self.exclude_test_artists else "")
                + "; pass groups= to split, cross_validate or GridSearchCV.fit"
            )
        groups = check_array(groups, input_name="groups", ensure_2d=False, dtype=None)
        if len(groups) != n_samples:
            raise ValueError(f"groups has {len(groups)} rows but X has {n_samples} songs")
        if self.exclude_test_artists:
            if groups.ndim != 2 or groups.shape[1] != 2:
                raise ValueError(
                    "exclude_test_artists=True needs groups of shape (n_songs, 2), each row "
                    f"a (year, artist) pair, e.g. np.c_[years, artists]; got shape {groups.shape}"
                )
            return groups[:, 0], groups[:, 1]
        if groups.ndim == 2 and groups.shape[1] == 1:
            groups = groups[:, 0]
        if groups.ndim != 1:
            raise ValueError(
                f"groups must hold one release year per song, got shape {groups.shape}; "
                "(year, artist) pairs go with exclude_test_artists=True"
            )
        return groups, None

    def _iter_test_masks(self, X=None, y=None, groups=None):  # pragma: no cover - see split
        raise NotImplementedError

    def split(self, X, y=None, groups=None):
        """Indices of the training and test songs of each fold.

        Parameters
        ----------
        X : array-like of shape (n_songs, ...)
            The songs (paths, waveforms or features); only their number is used.
        y : ignored
        groups : array-like of shape (n_songs,) or (n_songs, 2)
            Release years, or (year, artist) pairs with ``exclude_test_artists``.

        Yields
        ------
        train : ndarray
            Songs released before the test year (less the test year's artists
            with ``exclude_test_artists``).
        test : ndarray
            Songs of the test year.
        """
        self._check_params()
        n_samples = len(X)
        years, artists = self._years_and_artists(groups, n_samples)
        distinct = np.unique(years)
        if len(distinct) < self.n_splits + 1:
            raise ValueError(
                f"ReleaseYearSplit(n_splits={self.n_splits}) needs at least "
                f"{self.n_splits + 1} distinct release years (a past to train on before each "
                f"of the {self.n_splits} test years); groups holds {len(distinct)}: "
                f"{distinct.tolist()}"
            )
        index = np.arange(n_samples)
        for year in distinct[-self.n_splits:]:
            test = years == year
            train = years < year
            if artists is not None:
                train &= ~np.isin(artists, np.unique(artists[test]))
            if not train.any():
                raise ValueError(
                    f"no training songs are left for test year {year!r}: every song released "
                    "before it is by an artist of that year (exclude_test_artists=True)"
                )
            yield index[train], index[test]
