"""The pipeline with scikit-learn's model selection, caching and persistence."""

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.pipeline import Pipeline

from sklearn_songpop import (
    SpectrogramTransformer,
    load_model,
    make_songpop_pipeline,
    save_model,
)
from sklearn_songpop.intervals import IntervalSampler
from sklearn_songpop.persistence import VersionMismatchWarning
from sklearn_songpop.portable import load_portable, save_portable
from sklearn_songpop.training import CosineSchedule, SongEarlyStopping, SongValidSplit

from .conftest import quick

QUICK = quick(intervals__duration=1.0)


@pytest.fixture(scope="module")
def songs(small_songs):
    return np.stack(small_songs.waveforms), small_songs.y, small_songs.groups


def quick_pipe(**kw):
    return make_songpop_pipeline("default", random_state=0, **{**QUICK, **kw})


def test_presets_are_the_documented_settings():
    paper = make_songpop_pipeline("paper").get_params()
    assert paper["intervals__sr"] == 44100 and paper["intervals__strategy"] == "thirds"
    assert paper["spectrogram__kind"] == "paper"
    assert paper["classifier__lr"] == 1e-4 and paper["classifier__batch_size"] == 13
    assert paper["classifier__max_epochs"] == 10 and paper["classifier__class_weight"] is None
    assert paper["classifier__crop_frames"] is None and paper["classifier__freq_mask"] == 0
    assert paper["classifier__time_mask"] == 0 and paper["classifier__mixup"] == 0
    default = make_songpop_pipeline().get_params()
    assert default["classifier__class_weight"] == "balanced"
    assert default["spectrogram__kind"] == "mel" and default["intervals__sr"] == 22050
    assert isinstance(default["classifier__train_split"], SongValidSplit)
    # fresh audio every epoch: 3-second crops (130 frames at hop 512) of longer windows
    assert default["classifier__crop_frames"] == 130 and default["intervals__duration"] > 3.0
    assert default["classifier__freq_mask"] > 0 and default["classifier__time_mask"] > 0
    callbacks = dict(default["classifier__callbacks"])
    assert isinstance(callbacks["lr_schedule"], CosineSchedule)
    assert isinstance(callbacks["early_stopping"], SongEarlyStopping)
    with pytest.raises(ValueError, match="preset"):
        make_songpop_pipeline("best")


def test_presets_do_not_share_mutable_state():
    a, b = make_songpop_pipeline(), make_songpop_pipeline()
    assert a.named_steps["classifier"].callbacks[0][1] is not b.named_steps[
        "classifier"].callbacks[0][1]


def test_cross_validate_with_groups(songs):
    X, y, groups = songs
    result = cross_validate(quick_pipe(), X, y, groups=groups, cv=GroupKFold(3),
                            scoring="balanced_accuracy", return_estimator=True)
    assert len(result["test_score"]) == 3 and np.all(np.isfinite(result["test_score"]))
    splits = list(GroupKFold(3).split(X, y, groups))
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])


@pytest.mark.parametrize("routing", [False, True])
def test_grid_search_over_all_steps_with_groups(songs, routing):
    X, y, groups = songs
    grid = {"intervals__n_intervals": [2], "spectrogram__n_mels": [16, 32],
            "classifier__lr": [1e-3, 3e-3]}
    search = GridSearchCV(quick_pipe(), grid, cv=GroupKFold(2), scoring="roc_auc")
    with sklearn.config_context(enable_metadata_routing=routing):
        search.fit(X, y, groups=groups)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.named_steps["spectrogram"].n_mels in (16, 32)
    assert search.predict_proba(X[:3]).shape == (3, 2)


def test_clone_gives_an_unfitted_equal_pipeline(songs):
    X, y, _ = songs
    pipe = quick_pipe().fit(X, y)
    copy = clone(pipe)
    assert copy.get_params(deep=False).keys() == pipe.get_params(deep=False).keys()
    assert not hasattr(copy.named_steps["classifier"], "classes_")
    np.testing.assert_array_equal(copy.fit(X, y).predict_proba(X), pipe.predict_proba(X))


class CountingSampler(IntervalSampler):
    calls = 0

    def transform(self, X):
        type(self).calls += 1
        return super().transform(X)


def test_memory_caches_transformers_across_a_grid(songs, tmp_path):
    X, y, groups = songs
    pipe = quick_pipe(memory=joblib.Memory(tmp_path, verbose=0))
    pipe.steps[0] = ("intervals", CountingSampler(duration=1.0, random_state=0))
    CountingSampler.calls = 0
    search = GridSearchCV(pipe, {"classifier__lr": [1e-3, 2e-3, 3e-3]}, cv=GroupKFold(2),
                          refit=False)
    search.fit(X, y, groups=groups)
    # 2 folds: decoded once per fold for training (cached across the 3 lr values),
    # plus once per fold and candidate for scoring the test songs
    assert CountingSampler.calls == 2 + 2 * 3
    CountingSampler.calls = 0
    uncached = quick_pipe()
    uncached.steps[0] = ("intervals", CountingSampler(duration=1.0, random_state=0))
    GridSearchCV(uncached, {"classifier__lr": [1e-3, 2e-3, 3e-3]}, cv=GroupKFold(2),
                 refit=False).fit(X, y, groups=groups)
    assert CountingSampler.calls == 2 * 3 * 2


def test_persistence_round_trip(songs, tmp_path):
    X, y, _ = songs
    pipe = quick_pipe().fit(X, y)
    joblib.dump(pipe, tmp_path / "plain.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "plain.joblib").predict_proba(X),
                                  pipe.predict_proba(X))
    save_model(pipe, tmp_path / "model.joblib")
    np.testing.assert_array_equal(load_model(tmp_path / "model.joblib").predict_proba(X),
                                  pipe.predict_proba(X))
    # the saved file is the pipeline itself, for joblib.load too; the versions ride on it
    again = joblib.load(tmp_path / "model.joblib")
    assert isinstance(again, Pipeline) and again.songpop_versions_["torch"]
    np.testing.assert_array_equal(again.predict_proba(X), pipe.predict_proba(X))
    assert not hasattr(pipe, "songpop_versions_")  # the model in memory is left as it was


def test_load_warns_on_other_versions(songs, tmp_path):
    X, y, _ = songs
    pipe = quick_pipe(classifier__max_epochs=1).fit(X[:10], y[:10] if len(set(y[:10])) > 1
                                                    else np.r_[0, 1, y[2:10]])
    # files saved before December 2026 held a dict: they still load, and still warn
    joblib.dump({"model": pipe, "versions": {"torch": "0.0.1", "sklearn": sklearn.__version__}},
                tmp_path / "old.joblib")
    with pytest.warns(VersionMismatchWarning, match="torch 0.0.1"):
        assert isinstance(load_model(tmp_path / "old.joblib"), Pipeline)
    pipe.songpop_versions_ = {"torch": "0.0.2"}
    joblib.dump(pipe, tmp_path / "new.joblib")
    with pytest.warns(VersionMismatchWarning, match="torch 0.0.2"):
        load_model(tmp_path / "new.joblib")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "missing.joblib")
    (tmp_path / "junk.joblib").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a model file"):
        load_model(tmp_path / "junk.joblib")


def test_predicts_songs_of_other_lengths(songs):
    X, y, _ = songs
    pipe = quick_pipe().fit(X, y)
    other = [X[0][: 22050 * 3], np.concatenate([X[1], X[2]])]
    assert pipe.predict_proba(other).shape == (2, 2)


def test_spectrogram_float16_through_the_classifier(songs):
    X, y, _ = songs
    pipe = quick_pipe(spectrogram__dtype="float16").fit(X, y)
    assert np.isfinite(pipe.predict_proba(X)).all()
    assert isinstance(pipe.named_steps["spectrogram"], SpectrogramTransformer)


RECIPE = {"intervals__duration": 2.0, "classifier__crop_frames": 30,
          "classifier__freq_mask": 0.15, "classifier__time_mask": 0.15}


def test_grid_search_over_the_recipe_with_groups(songs):
    X, y, groups = songs
    grid = {"classifier__crop_frames": [20, 30], "classifier__freq_mask": [0.0, 0.2]}
    search = GridSearchCV(quick_pipe(**RECIPE), grid, cv=GroupKFold(2), scoring="roc_auc")
    search.fit(X, y, groups=groups)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.named_steps["classifier"].crop_frames in (20, 30)


def test_recipe_clones_and_persists(songs, tmp_path):
    X, y, _ = songs
    pipe = quick_pipe(**RECIPE).fit(X, y)
    again = clone(pipe).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), pipe.predict_proba(X))
    joblib.dump(pipe, tmp_path / "crop.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "crop.joblib").predict_proba(X),
                                  pipe.predict_proba(X))
    portable = load_portable(save_portable(pipe, tmp_path / "portable"))
    assert portable.named_steps["classifier"].crop_frames == 30  # predictions tile crops
    np.testing.assert_allclose(portable.predict_proba(X), pipe.predict_proba(X), atol=1e-5)


def test_instance_norm_grid_searches_and_persists(songs, tmp_path):
    X, y, groups = songs
    grid = {"classifier__module__instance_norm": [False, True]}
    search = GridSearchCV(quick_pipe(**RECIPE), grid, cv=GroupKFold(2), scoring="roc_auc")
    search.fit(X, y, groups=groups)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    pipe = quick_pipe(**RECIPE, classifier__module__instance_norm=True).fit(X, y)
    assert pipe.named_steps["classifier"].module_._instance_norm
    joblib.dump(pipe, tmp_path / "instance.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "instance.joblib").predict_proba(X),
                                  pipe.predict_proba(X))
    portable = load_portable(save_portable(pipe, tmp_path / "portable"))
    assert portable.named_steps["classifier"].module_._instance_norm
    np.testing.assert_allclose(portable.predict_proba(X), pipe.predict_proba(X), atol=1e-5)


def test_an_ensemble_of_seeds_as_the_last_step(songs):
    """The user guide's ensemble: a soft vote of classifiers that differ in random_state."""
    from sklearn.ensemble import VotingClassifier

    X, y, _ = songs
    members = [clone(quick_pipe(**RECIPE)[-1]).set_params(random_state=seed) for seed in (0, 1)]
    pipe = quick_pipe(**RECIPE)
    pipe.steps[-1] = ("classifier", VotingClassifier(
        [(f"seed{i}", m) for i, m in enumerate(members)], voting="soft"))
    pipe.fit(X, y)
    vote = pipe.named_steps["classifier"]
    spectrograms = pipe[:-1].transform(X)
    each = [m.predict_proba(spectrograms) for m in vote.estimators_]
    assert not np.allclose(each[0], each[1])  # the seeds give two networks
    np.testing.assert_allclose(pipe.predict_proba(X), np.mean(each, axis=0), atol=1e-6)
