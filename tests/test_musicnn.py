"""musicnn in PyTorch: equal to the original graph, its front end equal to musicnn's,
and a pipeline step that behaves as scikit-learn expects."""

from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_songpop import (
    AudioError,
    IntervalSampler,
    MusicnnEmbedding,
    load_musicnn,
    load_portable,
    make_songpop_pipeline,
    save_portable,
)
from sklearn_songpop._write import write_audio
from sklearn_songpop.musicnn_net import MSD_TAGS, musicnn_melspectrogram

REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as saved:
        return {k: saved[k] for k in saved.files}


def test_outputs_equal_the_original_graph(reference):
    # tools/convert_musicnn.py ran the original TensorFlow graph on these patches
    net = load_musicnn()
    x = torch.from_numpy(reference["patches"])
    with torch.no_grad():
        tags = torch.sigmoid(net(x)).numpy()
        layers = {k: v.numpy() for k, v in net.features(x).items()}
    # largest differences when written: tags 5e-7, penultimate 7e-6, mean_pool 2e-5,
    # max_pool 2.5e-4 on values up to 91 (float32 sums in another order)
    np.testing.assert_allclose(tags, reference["tags"], rtol=0, atol=1e-4)
    for name in ("penultimate", "mean_pool", "max_pool"):
        np.testing.assert_allclose(layers[name], reference[name], rtol=1e-5, atol=1e-4,
                                   err_msg=name)
    assert tags.std() > 0.01  # the clips are told apart: not a constant output


def test_front_end_equals_musicnns_own(reference):
    audio = torch.from_numpy(reference["audio"].astype(np.float32) / 32767)
    ours = musicnn_melspectrogram(audio)[:, :187].numpy()
    theirs = reference["patches"]
    diff = np.abs(ours - theirs)
    # float16 rounding: where torch's and librosa's float32 spectra differ in the last
    # bit, a value can round to the neighbouring float16 (one step is 0.002 near 3)
    assert (diff > 0).mean() < 1e-3
    assert diff.max() <= 0.002


def test_front_end_matches_librosa_here_and_survives_loud_tones():
    import librosa

    t = np.arange(48_000) / 16_000
    quiet = (0.05 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    mel = librosa.feature.melspectrogram(y=quiet, sr=16_000, n_fft=512, hop_length=256,
                                         n_mels=96).T
    expected = np.log10(10000 * mel.astype(np.float16) + 1).astype(np.float32)
    ours = musicnn_melspectrogram(torch.from_numpy(quiet)).numpy()
    assert ours.shape == expected.shape == (188, 96)
    assert np.abs(ours - expected).max() <= 0.002
    # musicnn's float16 product overflows to infinity for a loud tone; ours stays finite
    loud = musicnn_melspectrogram(torch.from_numpy(20 * quiet)).numpy()
    assert np.isfinite(loud).all() and loud.max() > ours.max()


def _clips(n=4, seconds=3.0, sr=16_000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    freqs = rng.uniform(150, 900, size=n)
    return np.stack([0.1 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(len(t))
                     for f in freqs]).astype(np.float32)


def test_shapes_and_names_of_each_output():
    X = _clips(3)
    emb = MusicnnEmbedding(layer="penultimate").fit(X)
    E = emb.transform(X)
    assert E.shape == (3, 400) and E.dtype == np.float32
    names = emb.get_feature_names_out()
    assert names[0] == "penultimate_mean0" and names[-1] == "penultimate_max199"
    tags = MusicnnEmbedding(output="tags").fit(X)
    T = tags.transform(X)
    assert T.shape == (3, 50) and ((T > 0) & (T < 1)).all()
    assert tags.get_feature_names_out().tolist() == list(MSD_TAGS)
    pooled = MusicnnEmbedding().fit(X)  # mean_pool: the 753 channels the back end reads
    assert pooled.transform(X).shape == (3, 1506) == (3, pooled.n_features_out_)
    assert pooled.get_feature_names_out()[753] == "mean_pool_max0"
    # the mean and the max of one patch per song are the same vector
    np.testing.assert_allclose(E[:, :200], E[:, 200:])


def test_a_song_pools_every_patch_of_every_interval():
    X = _clips(4, seconds=3.0)
    emb = MusicnnEmbedding(layer="penultimate").fit(X)
    one = emb.transform(X)[:, :200]  # one patch per song: its penultimate layer
    intervals = np.stack([X[:2], X[2:]], axis=1)  # two songs of two intervals each
    pooled = emb.transform(intervals)
    np.testing.assert_allclose(pooled[:, :200], (one[:2] + one[2:]) / 2, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(pooled[:, 200:], np.maximum(one[:2], one[2:]), rtol=1e-5,
                               atol=1e-5)
    long = emb.transform(_clips(1, seconds=9.0))  # three patches of one long clip
    assert long.shape == (1, 400) and (long[0, 200:] >= long[0, :200] - 1e-6).all()


def test_waveforms_at_another_rate_are_resampled():
    t = np.arange(48_000) / 16_000
    X16 = np.stack([0.1 * np.sin(2 * np.pi * f * t) for f in (262.0, 523.0)]).astype(np.float32)
    import soxr

    X22 = np.stack([soxr.resample(x, 16_000, 22_050) for x in X16]).astype(np.float32)
    a = MusicnnEmbedding(output="tags").fit(X16).transform(X16)
    b = MusicnnEmbedding(output="tags", sr=22_050).fit(X22).transform(X22)
    np.testing.assert_allclose(a, b, atol=0.02)


def test_paths_and_a_column_transformer_with_metadata(tmp_path):
    pd = pytest.importorskip("pandas")
    X = _clips(6)
    paths = []
    for i, x in enumerate(X):
        paths.append(str(tmp_path / f"song{i}.wav"))
        write_audio(paths[-1], x, 16_000)
    emb = MusicnnEmbedding(output="tags").fit(paths)
    np.testing.assert_allclose(emb.transform(paths), emb.transform(X), atol=1e-3)
    frame = pd.DataFrame({"path": paths, "label_name": ["a", "b"] * 3})
    model = Pipeline([
        ("features", ColumnTransformer([
            ("audio", MusicnnEmbedding(output="tags"), "path"),
            ("label", OneHotEncoder(), ["label_name"]),
        ])),
        ("scale", StandardScaler()),
        ("classifier", LogisticRegression()),
    ]).fit(frame, [0, 1, 0, 1, 1, 0])
    assert model.predict_proba(frame).shape == (6, 2)
    out = MusicnnEmbedding(output="tags").set_output(transform="pandas").fit_transform(X)
    assert list(out.columns[:2]) == ["rock", "pop"]


@pytest.mark.slow
def test_clone_grid_search_and_joblib(tmp_path):
    X = _clips(8)
    y = np.array([0, 1] * 4)
    pipe = Pipeline([("embedding", MusicnnEmbedding(output="tags")),
                     ("classifier", LogisticRegression())])
    grid = GridSearchCV(pipe, {"classifier__C": [0.1, 1.0]}, cv=GroupKFold(2))
    grid.fit(X, y, groups=[0, 0, 1, 1, 2, 2, 3, 3])
    assert clone(grid.best_estimator_).get_params()["embedding__output"] == "tags"
    joblib.dump(grid.best_estimator_, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(again.predict_proba(X), grid.best_estimator_.predict_proba(X))


class _Counting(MusicnnEmbedding):
    calls: list = []

    def transform(self, X):
        self.calls.append(len(X))
        return super().transform(X)


def test_pipeline_memory_caches_the_embedding(tmp_path):
    X = _clips(4)
    pipe = Pipeline([("embedding", _Counting(output="tags")), ("scale", StandardScaler())],
                    memory=str(tmp_path))
    pipe.fit(X)
    pipe.fit(X)
    assert _Counting.calls == [4]  # the second fit read the cache


@pytest.mark.slow  # the CLI test trains and predicts the preset from files in the fast tier
def test_the_preset_runs_from_files(tmp_path):
    X = _clips(6, seconds=12.0)
    paths = []
    for i, x in enumerate(X):
        paths.append(str(tmp_path / f"song{i}.wav"))
        write_audio(paths[-1], x, 16_000)
    pipe = make_songpop_pipeline("musicnn", random_state=0).fit(paths, [0, 1] * 3)
    assert pipe.predict_proba(paths).shape == (6, 2)
    assert isinstance(pipe.named_steps["intervals"], IntervalSampler)
    reg = make_songpop_pipeline("musicnn", task="regression").fit(paths, np.arange(6.0))
    assert reg.predict(paths).shape == (6,)


@pytest.mark.parametrize("task", [
    "classification", pytest.param("regression", marks=pytest.mark.slow)])
def test_the_preset_saves_without_pickle(tmp_path, task):
    X = _clips(6, seconds=10.0)
    y = np.array([0, 1] * 3) if task == "classification" else np.arange(6.0)
    pipe = make_songpop_pipeline("musicnn", task=task, random_state=0).fit(X, y)
    folder = save_portable(pipe, tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["head.npz", "settings.json"]
    again = load_portable(folder)
    assert [name for name, _ in again.steps] == [name for name, _ in pipe.steps]
    if task == "classification":
        np.testing.assert_allclose(again.predict_proba(X), pipe.predict_proba(X), atol=1e-6)
    else:
        np.testing.assert_allclose(again.predict(X), pipe.predict(X), rtol=1e-6)
    other = Pipeline([("intervals", pipe[0]), ("embedding", pipe[1]),
                      ("classifier", LogisticRegression().fit(pipe[:2].transform(X), [0, 1] * 3))])
    with pytest.raises(ValueError, match="only as the musicnn preset makes it"):
        save_portable(other, tmp_path / "other")


def test_bad_input_is_named():
    short = _clips(2, seconds=1.0)
    with pytest.raises(ValueError, match=r"X\[0\]: a clip of 1.00 s .* shorter than one "
                                         r"musicnn patch \(2.98 s\)"):
        MusicnnEmbedding().fit(short).transform(short)
    # as musicnn's training did, a short clip can be repeated to fill a patch
    assert MusicnnEmbedding(short="repeat").fit(short).transform(short).shape == (2, 1506)
    with pytest.raises(AudioError, match="missing.wav: file not found"):
        MusicnnEmbedding().fit(["missing.wav"]).transform(["missing.wav"])
    with pytest.raises(ValueError, match="NaN"):
        MusicnnEmbedding().fit(_clips(1)).transform(np.full((1, 48_000), np.nan))
    with pytest.raises(ValueError, match="'layer' parameter"):
        MusicnnEmbedding(layer="tags").fit(_clips(1))
    with pytest.raises(TypeError, match="wrap it in a list"):
        MusicnnEmbedding().fit(_clips(1)).transform("song.wav")


_ANY_LENGTH = (
    "songs of any length are valid input: the parameters, not the input's length, fix the "
    "output, so transform does not insist on the number of samples seen in fit"
)
_EXPECTED_FAILURES = {
    "check_n_features_in_after_fitting": _ANY_LENGTH,
    "check_transformer_general": _ANY_LENGTH,
    "check_transformer_general(readonly_memmap=True)": _ANY_LENGTH,
    "check_methods_subset_invariance": (
        "float32 convolution sums change in their last bits with the batch's size (oneDNN "
        "picks its kernels by shape): about 3e-7 on values near 1e-3"),
}


# in this file rather than test_estimator_checks.py, so that pytest-xdist's loadfile
# gives these slow checks a worker of their own
@pytest.mark.slow
@parametrize_with_checks(
    # the checks' rows are waveforms of a few samples: each is repeated to fill one patch
    [MusicnnEmbedding(short="repeat", batch_size=64)],
    expected_failed_checks=lambda estimator: _EXPECTED_FAILURES,
)
def test_musicnn_is_sklearn_compatible(estimator, check):
    check(estimator)
