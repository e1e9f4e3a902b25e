import json

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold

from sklearn_songpop import BandStatistics, evaluate, make_baselines, make_songpop_pipeline
from sklearn_songpop.plotting import plot_interval_timeline, plot_spectrogram
from sklearn_songpop.spectrogram import SpectrogramTransformer


@pytest.fixture(scope="module")
def result(small_songs):
    X = np.stack(small_songs.waveforms)
    pipe = make_songpop_pipeline(random_state=0, classifier__max_epochs=3,
                                 classifier__callbacks=None, classifier__train_split=None,
                                 spectrogram__n_mels=32)
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
    files = result.plot(tmp_path)
    assert len(files) == 3 and all((tmp_path / f).stat().st_size > 1000 for f in files)


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
    assert len(ax.patches) == 2
    with pytest.raises(ValueError, match="2-D"):
        plot_spectrogram(np.zeros(4))
