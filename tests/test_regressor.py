"""SpectrogramCNNRegressor: a number per song, on the machinery the classifier shares."""

import joblib
import numpy as np
import pytest
import sklearn
import torch
from scipy.stats import spearmanr
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklearn_songpop import (
    SongValidSplit,
    SpectrogramCNNClassifier,
    SpectrogramCNNRegressor,
    forward,
    make_songpop_pipeline,
)
from sklearn_songpop.songnet import SongNet
from sklearn_songpop.training import SongEarlyStopping

from .conftest import quick


def toy(n=40, k=3, shape=(16, 16), seed=0):
    """Songs whose number grows with the level of their top band."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k, *shape)).astype(np.float32)
    level = rng.uniform(0.0, 2.0, n)
    X[:, :, : shape[0] // 4] += level[:, None, None, None].astype(np.float32)
    return X, 10.0 + 5.0 * level


def fast(**kw):
    return SpectrogramCNNRegressor(**{"max_epochs": 15, "random_state": 0, "lr": 3e-3, **kw})


def test_one_base_for_both_estimators():
    assert issubclass(SpectrogramCNNRegressor, SongNet)
    assert issubclass(SpectrogramCNNClassifier, SongNet)
    # the shared machinery is defined once, on the base
    for name in ("infer", "augment_batch", "train_step_single", "_check_X", "_seeded"):
        assert name not in vars(SpectrogramCNNRegressor) and name not in vars(
            SpectrogramCNNClassifier), name


def test_learns_the_ranking_of_the_songs():
    X, y = toy()
    reg = fast().fit(X, y)
    X_new, y_new = toy(seed=1)
    pred = reg.predict(X_new)
    assert pred.shape == (40,) and pred.dtype == np.float64
    assert spearmanr(pred, y_new).statistic > 0.8
    assert reg.score(X_new, y_new) > 0.3


def test_song_prediction_is_mean_of_interval_predictions():
    X, y = toy(n=12)
    reg = fast(max_epochs=2).fit(X, y)
    per_interval = reg.predict_interval(X)
    assert per_interval.shape == (12, 3)
    np.testing.assert_allclose(reg.predict(X), per_interval.mean(axis=1))


def test_standardised_targets_make_the_scale_irrelevant():
    X, y = toy(n=20)
    small = fast(max_epochs=3).fit(X, y)
    big = fast(max_epochs=3).fit(X, 1e6 + 1000.0 * y)
    np.testing.assert_allclose(big.predict(X), 1e6 + 1000.0 * small.predict(X), rtol=1e-6)
    assert big.y_mean_ == pytest.approx(1e6 + 1000.0 * y.mean())
    raw = fast(max_epochs=1, standardize_target=False).fit(X, y)
    assert (raw.y_mean_, raw.y_scale_) == (0.0, 1.0)
    const = fast(max_epochs=1).fit(X, np.full(len(X), 7.0))
    assert const.y_scale_ == 1.0 and np.all(np.isfinite(const.predict(X)))


def test_crops_train_on_random_runs_and_predict_on_their_mean():
    X, y = toy(n=16, shape=(16, 24))
    reg = fast(max_epochs=2, crop_frames=8, freq_mask=0.2, time_mask=0.2, mixup=0.4,
               gain_db=3.0).fit(X, y)
    seen = []
    orig = reg.module_.forward

    def spy(x):
        seen.append(tuple(x.shape))
        return orig(x)

    reg.module_.forward = spy
    pred = reg.predict_interval(X[:2])
    # the 24 frames are tiled by crops of 8 starting every 4 frames: 5 crops per interval
    assert seen == [(2 * 3 * 5, 1, 16, 8)]
    reg.module_.forward = orig
    crops = torch.as_tensor(X[:2]).unfold(-1, 8, 4).permute(0, 1, 3, 2, 4)
    reg.module_.eval()
    with torch.no_grad():
        by_crop = forward.module_outputs(reg.module_, crops, fast=reg._use_fast_path())
        by_crop = by_crop[..., 0].numpy()
    np.testing.assert_allclose(pred, by_crop.mean(axis=2) * reg.y_scale_ + reg.y_mean_,
                               rtol=1e-4, atol=1e-4)


def test_song_level_validation_and_early_stopping_on_the_rank_correlation():
    X, y = toy(n=60)
    reg = fast(max_epochs=6, train_split=SongValidSplit(0.25, min_songs=10),
               callbacks=[SongEarlyStopping(monitor="valid_song_rho", patience=2)]).fit(X, y)
    rho = reg.history_[:, "valid_song_rho"]
    assert all(-1.0 <= r <= 1.0 for r in rho)
    best = int(np.nanargmax(rho))
    assert len(rho) <= 6 and best >= len(rho) - 3  # stopped within patience of its best
    # fewer validation songs than min_songs: no split, no score, every epoch runs
    reg = fast(max_epochs=3, train_split=SongValidSplit(0.25, min_songs=100)).fit(X, y)
    assert "valid_song_rho" not in reg.history_[-1] and len(reg.history_) == 3


def test_transformed_target_regressor_wraps_it():
    X, y = toy(n=24)
    streams = np.expm1(y / 2.0)
    model = TransformedTargetRegressor(regressor=fast(max_epochs=3), func=np.log1p,
                                       inverse_func=np.expm1).fit(X, streams)
    pred = model.predict(X)
    assert pred.shape == (24,) and np.all(pred > 0)
    inner = model.regressor_
    assert inner.y_mean_ == pytest.approx(np.log1p(streams).mean())


def test_bad_targets_are_named():
    X, y = toy(n=10)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        fast().fit(X, np.where(np.arange(10) == 3, np.nan, y))
    with pytest.raises(ValueError, match="requires y"):
        fast().fit(X, None)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fast().fit(X, y[:5])
    with pytest.raises(ValueError, match="standardize_target"):
        fast(standardize_target="yes").fit(X, y)
    with pytest.raises(ValueError, match="crop_frames"):
        fast(crop_frames=0).fit(X, y)


def test_joblib_round_trip(tmp_path):
    X, y = toy(n=12)
    reg = fast(max_epochs=2).fit(X, y)
    joblib.dump(reg, tmp_path / "reg.joblib")
    back = joblib.load(tmp_path / "reg.joblib")
    np.testing.assert_allclose(back.predict(X), reg.predict(X), rtol=1e-6)


QUICK = quick("regression", intervals__duration=1.0, spectrogram__n_mels=16,
              regressor__crop_frames=20)


@pytest.mark.parametrize("routing", [False, True])
def test_grid_search_over_regressor_and_transformer_with_groups(small_songs, routing):
    X = np.stack(small_songs.waveforms)
    y, groups = small_songs.popularity, small_songs.groups
    pipe = make_songpop_pipeline(task="regression", random_state=0, **QUICK)
    grid = {"spectrogram__n_mels": [16, 24], "regressor__lr": [1e-3, 3e-3]}
    search = GridSearchCV(pipe, grid, cv=GroupKFold(2), scoring="r2")
    with sklearn.config_context(enable_metadata_routing=routing):
        search.fit(X, y, groups=groups)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.named_steps["spectrogram"].n_mels in (16, 24)
    assert search.predict(X[:3]).shape == (3,)


def test_regression_preset():
    params = make_songpop_pipeline(task="regression").get_params()
    assert isinstance(params["regressor"], SpectrogramCNNRegressor)
    assert params["regressor__crop_frames"] == 130 and params["regressor__freq_mask"] > 0
    stopping = dict(params["regressor__callbacks"])["early_stopping"]
    assert stopping.monitor == "valid_song_rho"
    paper = make_songpop_pipeline("paper", task="regression").get_params()
    assert paper["regressor__lr"] == 1e-4 and paper["spectrogram__kind"] == "paper"
    with pytest.raises(ValueError, match="task must be one of"):
        make_songpop_pipeline(task="ranking")


def test_one_song_is_not_enough():
    X, y = toy(n=2)
    with pytest.raises(ValueError, match="n_samples = 1"):
        fast().fit(X[:1], y[:1])


def test_regression_pipeline_saves_without_pickle(small_songs, tmp_path):
    from sklearn_songpop import load_portable, save_portable

    X = np.stack(small_songs.waveforms[:12])
    pipe = make_songpop_pipeline(task="regression", random_state=0, **QUICK).fit(
        X, small_songs.popularity[:12])
    back = load_portable(save_portable(pipe, tmp_path / "portable"))
    assert back.steps[-1][0] == "regressor"
    np.testing.assert_allclose(back.predict(X), pipe.predict(X), rtol=1e-5, atol=1e-5)
