"""ReleaseYearSplit: forward in time, by release year."""

import numpy as np
import pytest
import sklearn
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_songpop import ReleaseYearSplit

YEARS = np.array([2018, 2020, 2019, 2019, 2021, 2020, 2021, 2018, 2022])
ARTISTS = np.array(["a", "b", "c", "a", "b", "d", "c", "d", "e"])


def test_each_fold_trains_on_the_past_and_tests_one_year():
    folds = list(ReleaseYearSplit(n_splits=3).split(YEARS, groups=YEARS))
    assert [sorted(set(YEARS[te])) for _, te in folds] == [[2020], [2021], [2022]]
    assert folds[0][0].tolist() == [0, 2, 3, 7]
    assert folds[0][1].tolist() == [1, 5]
    for train, test in folds:
        assert YEARS[train].max() < YEARS[test].min()
        assert set(train) | set(test) == set(np.flatnonzero(YEARS <= YEARS[test][0]))
    assert ReleaseYearSplit(n_splits=3).get_n_splits() == 3


def test_test_years_artists_can_be_kept_out_of_training():
    groups = np.c_[YEARS, ARTISTS]
    folds = list(ReleaseYearSplit(n_splits=2, exclude_test_artists=True).split(
        YEARS, groups=groups))
    # 2021 is by b and c: their earlier songs (rows 1, 2) leave the training set
    assert folds[0][1].tolist() == [4, 6]
    assert folds[0][0].tolist() == [0, 3, 5, 7]
    for train, test in folds:
        assert not set(ARTISTS[train]) & set(ARTISTS[test])


def test_years_that_are_strings_sort_in_time():
    quarters = np.array(["2020-Q4", "2021-Q1", "2020-Q3", "2021-Q2"])
    folds = list(ReleaseYearSplit(n_splits=2).split(quarters, groups=quarters))
    assert [te.tolist() for _, te in folds] == [[1], [3]]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="at least 4 distinct release years.*holds 3"):
        next(ReleaseYearSplit(n_splits=3).split(YEARS[:4], groups=YEARS[:4]))
    with pytest.raises(ValueError, match="needs groups"):
        next(ReleaseYearSplit().split(YEARS))
    with pytest.raises(ValueError, match=r"shape \(n_songs, 2\)"):
        next(ReleaseYearSplit(exclude_test_artists=True).split(YEARS, groups=YEARS))
    with pytest.raises(ValueError, match="one release year per song"):
        next(ReleaseYearSplit().split(YEARS, groups=np.c_[YEARS, ARTISTS]))
    with pytest.raises(ValueError, match="n_splits must be a positive integer"):
        next(ReleaseYearSplit(n_splits=0).split(YEARS, groups=YEARS))
    with pytest.raises(ValueError, match="groups has 3 rows"):
        next(ReleaseYearSplit().split(YEARS, groups=YEARS[:3]))
    alone = np.array([2019, 2020])
    with pytest.raises(ValueError, match="no training songs are left for test year"):
        next(ReleaseYearSplit(n_splits=1, exclude_test_artists=True).split(
            alone, groups=np.c_[alone, ["a", "a"]]))


@pytest.mark.parametrize("routing", [False, True])
def test_works_with_cross_validate_and_grid_search(routing):
    X = np.arange(len(YEARS), dtype=float)[:, None]
    y = X[:, 0] * 2.0
    cv = ReleaseYearSplit(n_splits=2)
    with sklearn.config_context(enable_metadata_routing=routing):
        kwargs = {"params": {"groups": YEARS}} if routing else {"groups": YEARS}
        result = cross_validate(DummyRegressor(), X, y, cv=cv, scoring="neg_mean_absolute_error",
                                return_indices=True, **kwargs)
        search = GridSearchCV(DummyRegressor(), {"strategy": ["mean", "median"]}, cv=cv,
                              scoring="neg_mean_absolute_error")
        search.fit(X, y, groups=YEARS)
    assert [sorted(set(YEARS[t])) for t in result["indices"]["test"]] == [[2021], [2022]]
    assert len(search.cv_results_["split1_test_score"]) == 2
