"""Attributions through the fitted pipeline (Captum), their plot, and the novelty score."""

import joblib
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from benchmarks.bench_explain import CUE_HZ, cue_set
from sklearn_songpop import (
    IntervalSampler,
    SpectrogramCNNClassifier,
    SpectrogramTransformer,
    explain,
    load_portable,
    make_baselines,
    make_songpop_pipeline,
    make_songs,
    save_portable,
)

from .conftest import quick


@pytest.fixture(scope="module")
def fitted(small_songs):
    """A quickly fitted default pipeline, two artists held out: for shapes, units, novelty."""
    X = np.stack(small_songs.waveforms)
    test = np.isin(small_songs.groups, np.unique(small_songs.groups)[:2])
    pipe = make_songpop_pipeline("default", random_state=0, **quick())
    pipe.fit(X[~test], small_songs.y[~test])
    return pipe, X[test], small_songs.y[test], X[~test]


@pytest.fixture(scope="module")
def learned_cue():
    """Random labels; every "popular" song carries a steady 1 kHz tone, the only thing to learn.

    The default preset, trained until it has learned the cue.
    """
    X, y, test = cue_set()  # the explain benchmark's set; four artists held out
    pipe = make_songpop_pipeline("default", random_state=0, classifier__max_epochs=15)
    pipe.fit(X[~test], y[~test])
    return pipe, X[test], y[test], X[~test]


def _cue_ratio(why) -> float:
    """Attribution mass on the bands within 250 Hz of the cue over those bands' share."""
    near = np.abs(why.frequencies - CUE_HZ) <= 250
    mass = np.abs(why.attributions)
    return float(mass[:, :, near].sum() / mass.sum() / near.mean())


@pytest.mark.slow
def test_occlusion_puts_the_mass_on_a_planted_cue(learned_cue):
    pipe, X_test, y_test, _ = learned_cue
    with_cue = X_test[y_test == 1]
    assert pipe.predict(with_cue).mean() > 0.8  # the net learned the cue
    why = explain(pipe, with_cue)
    # chance puts the mass in proportion to the area (ratio 1); measured here: about 4.8
    assert _cue_ratio(why) >= 3.0
    assert (why.targets == 1).all()


def test_shapes_units_and_determinism(fitted):
    pipe, X_test, _, _ = fitted
    songs = X_test[:2]
    why = explain(pipe, songs)
    n_bins = pipe.named_steps["spectrogram"].n_mels
    S = pipe[:-1].transform(songs)
    assert why.attributions.shape == S.shape == why.spectrograms.shape
    assert why.attributions.dtype == np.float32
    np.testing.assert_array_equal(why.spectrograms, S)
    np.testing.assert_allclose(why.starts, pipe[0].interval_starts(songs))
    assert why.frequencies.shape == (n_bins,) and np.all(np.diff(why.frequencies) > 0)
    assert why.times.shape == (S.shape[-1],) and 0 < why.times[-1] < why.duration == 6.0
    proba = pipe.predict_proba(songs)
    cls = list(pipe.classes_)
    np.testing.assert_allclose(why.predictions,
                               proba[np.arange(2), [cls.index(t) for t in why.targets]],
                               atol=1e-5)
    assert why.novelty.shape == (2,)
    again = explain(pipe, songs)
    np.testing.assert_array_equal(why.attributions, again.attributions)


@pytest.mark.parametrize("method", ["integrated_gradients", "input_x_gradient"])
def test_gradient_methods(fitted, method):
    pipe, X_test, _, _ = fitted
    why = explain(pipe, X_test[:1], method=method, target=1)
    assert why.method == method and why.targets.tolist() == [1]
    assert why.attributions.shape == pipe[:-1].transform(X_test[:1]).shape
    assert np.isfinite(why.attributions).all() and np.abs(why.attributions).sum() > 0


def test_occlusion_patches_are_uniform(fitted):
    pipe, X_test, _, _ = fitted
    why = explain(pipe, X_test[:1], patch=(8, 6.0))  # whole-interval strips of 8 bands
    a = why.attributions[0, 0]
    assert np.allclose(a, a[:, :1]) and np.allclose(a[:8], a[0])


def test_regressor_explained():
    songs = make_songs(n_songs=16, duration=8.0, random_state=1)
    pipe = make_songpop_pipeline("default", task="regression", random_state=0,
                                 **quick("regression")).fit(songs.waveforms, songs.popularity)
    why = explain(pipe, songs.waveforms[:2])
    assert why.targets is None
    np.testing.assert_allclose(why.predictions, pipe.predict(songs.waveforms[:2]), atol=1e-4)


def test_bad_calls_say_what_is_wrong(fitted):
    pipe, X_test, _, _ = fitted
    with pytest.raises(ValueError, match="method must be one of"):
        explain(pipe, X_test[:1], method="lime")
    with pytest.raises(ValueError, match="patch must be"):
        explain(pipe, X_test[:1], patch=(0, 1.0))
    with pytest.raises(ValueError, match="not a class of the model"):
        explain(pipe, X_test[:1], target="hit")
    with pytest.raises(TypeError, match="needs a fitted Pipeline"):
        explain(pipe[-1], X_test[:1])
    baseline = make_baselines(IntervalSampler(), random_state=0)["log-mel band statistics"]
    with pytest.raises(TypeError, match="ends in LogisticRegression"):
        explain(baseline, X_test[:1])
    no_sampler = Pipeline([("spectrogram", SpectrogramTransformer()),
                           ("classifier", SpectrogramCNNClassifier())])
    with pytest.raises(ValueError, match="needs a pipeline with an IntervalSampler"):
        explain(no_sampler, X_test[:1])
    with pytest.raises(NotFittedError):
        explain(make_songpop_pipeline("default"), X_test[:1])


def test_explanation_plot(fitted):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_songpop.plotting import plot_explanation

    pipe, X_test, _, _ = fitted
    fig = plot_explanation(explain(pipe, X_test[:1]))
    timeline, *panels = fig.axes
    # one segment per interval, as long as an interval, at its output's height
    segments = timeline.collections[0].get_segments()
    assert len(segments) == 3
    assert all(seg[1][0] - seg[0][0] == pytest.approx(pipe[0].duration) for seg in segments)
    assert panels[0].get_ylabel() == "frequency (Hz)"
    assert panels[0].get_xlabel() == "seconds into the interval"


# ---------------------------------------------------------------------- novelty
def _with_noise(fitted, levels):
    """The fitted classifier, and the spectrograms of four training songs with white
    noise added at each level."""
    pipe, _, _, X_train = fitted
    songs = X_train[:4]
    noise = np.random.default_rng(0).standard_normal(songs.shape).astype(np.float32)
    return pipe[-1], [pipe[:-1].transform(songs + level * noise) for level in levels]


def test_novelty_low_for_training_songs_high_for_noise(fitted):
    clf, noisy = _with_noise(fitted, (0.0, 0.05, 0.5))
    scores = [clf.novelty(S).mean() for S in noisy]
    assert scores[0] < 0.5 and scores[-1] == 1.0
    assert scores[0] <= scores[1] <= scores[2]


def test_novelty_distance_keeps_ranking_where_the_share_saturates(fitted):
    clf, (clean, *louder) = _with_noise(fitted, (0.0, 0.5, 2.0))
    assert [clf.novelty(S).min() for S in louder] == [1.0, 1.0]  # the share saturates
    far, farther = (clf.novelty(S, scale="distance") for S in louder)
    assert (farther > far).all() and (far > 1).all()
    assert np.median(clf.novelty(clean, scale="distance")) < np.median(far)
    with pytest.raises(ValueError, match="scale must be 'share' or 'distance'"):
        clf.novelty(louder[0], scale="percent")


def test_novelty_reference_is_bounded_and_optional():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2, 16, 16)).astype(np.float32)
    y = [0, 1] * 6
    clf = SpectrogramCNNClassifier(max_epochs=1, random_state=0, novelty_songs=5).fit(X, y)
    assert clf.novelty_reference_.embeddings.shape == (5, 128)
    scores = clf.novelty(X)
    assert scores.shape == (12,) and ((0 <= scores) & (scores <= 1)).all()
    off = SpectrogramCNNClassifier(max_epochs=1, random_state=0, novelty_songs=0).fit(X, y)
    assert off.novelty_reference_ is None
    with pytest.raises(ValueError, match="novelty_songs=0"):
        off.novelty(X)
    with pytest.raises(ValueError, match=r"'novelty_songs' parameter of .* must be an int in the "
                       r"range \[0, inf\)\. Got -1 instead"):
        SpectrogramCNNClassifier(max_epochs=1, novelty_songs=-1).fit(X, y)
    with pytest.raises(NotFittedError):
        SpectrogramCNNClassifier().novelty(X)


def test_a_module_without_an_embedding_still_fits():
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self, n_classes=2):
            super().__init__()
            self.out = torch.nn.Linear(16 * 16, n_classes)

        def forward(self, x):
            return self.out(x.flatten(1))

    X = np.random.default_rng(0).standard_normal((8, 2, 16, 16)).astype(np.float32)
    clf = SpectrogramCNNClassifier(Tiny, max_epochs=1, random_state=0).fit(X, [0, 1] * 4)
    assert clf.novelty_reference_ is None and clf.predict(X).shape == (8,)
    with pytest.raises(ValueError, match="no embed"):
        clf.novelty(X)


def test_novelty_survives_saving(fitted, tmp_path):
    pipe, X_test, _, _ = fitted
    expected = pipe[-1].novelty(pipe[:-1].transform(X_test[:3]))
    joblib.dump(pipe, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(again[-1].novelty(again[:-1].transform(X_test[:3])), expected)
    portable = load_portable(save_portable(pipe, tmp_path / "portable"))
    np.testing.assert_allclose(portable[-1].novelty(portable[:-1].transform(X_test[:3])),
                               expected)
