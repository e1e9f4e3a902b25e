import json

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold

from sklearn_songpop import BandStatistics, evaluate, make_baselines, make_songpop_pipeline
from sklearn_songpop.plotting import plot_interval_timeline, plot_spectrogram
from sklearn_songpop.spectrogram import SpectrogramTransformer

from .conftest import quick


@pytest.fixture(scope="module")
def result(small_songs):
    X = np.stack(small_songs.waveforms)
    pipe = make_songpop_pipeline(random_state=0, **quick(intervals__duration=2.0))
    return evaluate(pipe, X, small_songs.y, groups=small_songs.groups, cv=GroupKFold(4))


def test_scores_and_baselines(result, small_songs):
    assert set(result.scores) == {"model", "majority class", "log-mel band statistics"}
    majority = result.scores["majority class"]
    assert majority["balanced_accuracy"] == 0.5 and majority["roc_auc"] == 0.5
    assert majority["accuracy"] == pytest.approx(np.mean(small_songs.y == 0))
    for scores in result.scores.values():
        assert set(scores) == {"accuracy", "balanced_accuracy", "roc_auc", "average_precision",
                               "f1"}
    cm = np.asarray(result.confusion["majority class"])
    assert cm[:, 1].sum() == 0 and cm.sum() == len(small_songs.y)
    assert len(result.fold_scores["model"]["roc_auc"]) == 4
    assert not np.isnan(result.proba["model"]).any()


def test_report_text_json_and_figures(result, tmp_path):
    text = str(result)
    assert "balanced_accuracy" in text and "Confusion matrix, majority class" in text
    result.save_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["n_songs"] == 40 and "GroupKFold" in data["cv"]
    assert set(data["calibration"]["model"]) == {"brier", "ece"}
    assert set(data["conformal"]["model"]) == {"0.1", "0.2"}
    assert "Calibration of the probabilities" in text and "cover@0.1" in text
    files = result.plot(tmp_path)
    assert len(files) == 4 and all((tmp_path / f).stat().st_size > 1000 for f in files)


def test_evaluate_rejects_bad_input(small_songs):
    X = np.stack(small_songs.waveforms)
    with pytest.raises(ValueError, match="labels"):
        evaluate(make_baselines()["majority class"], X, small_songs.y[:-1])
    with pytest.raises(ValueError, match="binary"):
        evaluate(make_baselines()["majority class"], X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match="pos_label"):
        evaluate(make_baselines()["majority class"], X, small_songs.y, pos_label=5)


def test_band_statistics():
    X = np.random.default_rng(0).standard_normal((3, 2, 4, 10))
    out = BandStatistics().fit_transform(X)
    np.testing.assert_allclose(out[:, :4], X.mean(axis=(1, 3)), rtol=1e-5)
    np.testing.assert_allclose(out[:, 4:], X.std(axis=(1, 3)), rtol=1e-4)


def test_plots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    tr = SpectrogramTransformer().fit(np.zeros((1, 22050), np.float32))
    image = plot_spectrogram(tr.transform(np.zeros((1, 22050), np.float32))[0, 0], tr)
    assert image.get_array().shape == (128, 44)
    ax = plot_interval_timeline(np.array([0.0, 3.0]), np.array([0.2, 0.8]), 3.0)
    segments = ax.collections[0].get_segments()
    assert [tuple(seg[:, 1]) for seg in segments] == [(0.2, 0.2), (0.8, 0.8)]
    with pytest.raises(ValueError, match="2-D"):
        plot_spectrogram(np.zeros(4))


@pytest.fixture(scope="module")
def regression(small_songs):
    from sklearn_songpop.intervals import IntervalSampler

    X = IntervalSampler(duration=3.0, random_state=0).fit_transform(
        np.stack(small_songs.waveforms))
    ridge = make_baselines(task="regression")["log-mel band statistics"]
    # four release years, so that two of them can be test years with a past before them
    years = 2019 + np.arange(len(X)) % 4
    return evaluate(ridge, X, small_songs.popularity, groups=small_songs.groups,
                    cv=GroupKFold(4), name="ridge", times=years, n_time_splits=2), years


def test_regression_scores_baselines_and_forward_in_time(regression, small_songs):
    result, years = regression
    assert set(result.scores) == {"ridge", "training mean", "log-mel band statistics"}
    for scores in result.scores.values():
        assert set(scores) == {"spearman", "r2", "mae", "top10_precision", "top10_ndcg"}
    # a constant ranks nothing: the scores are means over folds, where the mean is constant
    assert result.fold_scores["training mean"]["spearman"] == [0.0] * 4
    assert result.scores["training mean"]["spearman"] == 0.0
    assert result.scores["training mean"]["r2"] <= 0.0
    assert result.scores["ridge"]["mae"] == pytest.approx(
        np.mean(result.fold_scores["ridge"]["mae"]))
    np.testing.assert_allclose(result.pred["ridge"], result.pred["log-mel band statistics"])
    assert not np.isnan(result.pred["ridge"]).any()
    forward = result.forward
    tested = ~np.isnan(forward.pred["ridge"])
    np.testing.assert_array_equal(tested, years >= 2021)
    assert forward.cv == "ReleaseYearSplit, 2 folds"
    assert len(forward.fold_scores["ridge"]["spearman"]) == 2


def test_regression_report(regression, tmp_path):
    result, _ = regression
    text = str(result)
    assert "spearman" in text and "Forward in time:" in text and "; 20 songs" in text
    result.save_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["task"] == "regression" and data["n_songs"] == 40
    assert data["forward_in_time"]["n_songs"] == 20
    files = result.plot(tmp_path)
    assert [f.rsplit("/", 1)[-1] for f in files] == ["predicted_vs_true.png"]


def test_hit_precision_and_bad_regression_input(small_songs):
    from sklearn_songpop.metrics import hit_precision

    y = np.arange(20.0)
    assert hit_precision(y, y) == 1.0 and hit_precision(y, -y) == 0.0
    assert hit_precision(y, y, top=0.25) == 1.0
    X = np.stack(small_songs.waveforms)
    with pytest.raises(TypeError, match="not a regressor"):
        evaluate(make_baselines()["majority class"], X, small_songs.popularity,
                 baselines=False)
    with pytest.raises(ValueError, match="times has 3 values"):
        evaluate(make_baselines(task="regression")["training mean"], X,
                 small_songs.popularity, times=[2019, 2020, 2021])
    with pytest.raises(ValueError, match="task must be"):
        make_baselines(task="ranking")


def test_timeline_of_a_regressor_is_not_a_probability():
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_interval_timeline(np.array([0.0, 3.0]), np.array([11.5, 13.0]), 3.0,
                                ylabel="predicted popularity")
    assert ax.get_ylabel() == "predicted popularity" and ax.get_ylim()[1] >= 13.0
