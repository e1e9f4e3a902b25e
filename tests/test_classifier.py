import copy
import pickle

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from sklearn_songpop import augment, forward
from sklearn_songpop.classifier import SpectrogramCNNClassifier
from sklearn_songpop.nets import PaperCNN
from sklearn_songpop.training import SongValidSplit


def toy(n=40, k=3, shape=(16, 16), seed=0, labels=(0, 1)):
    """Songs whose positive class has a brighter top band."""
    rng = np.random.default_rng(seed)
    y = np.array([labels[i % 2] for i in range(n)])
    X = rng.standard_normal((n, k, *shape)).astype(np.float32)
    X[y == labels[1], :, : shape[0] // 4] += 1.5
    return X, y


def fast(**kw):
    params = {"max_epochs": 6, "random_state": 0, "lr": 3e-3}
    params.update(kw)
    return SpectrogramCNNClassifier(**params)


@pytest.mark.parametrize("labels", [(0, 1), ("hit", "miss"), (False, True), ("b", "a")])
def test_any_labels_and_classes(labels):
    X, y = toy(labels=labels)
    clf = fast().fit(X, y)
    assert set(clf.classes_.tolist()) == set(labels)
    pred = clf.predict(X)
    assert set(pred.tolist()) <= set(labels)
    assert (pred == y).mean() > 0.8


def test_song_prediction_is_mean_of_interval_probabilities():
    X, y = toy()
    clf = fast().fit(X, y)
    per_interval = clf.predict_interval_proba(X)
    assert per_interval.shape == (len(X), 3, 2)
    np.testing.assert_allclose(clf.predict_proba(X), per_interval.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(per_interval.sum(axis=-1), 1.0, rtol=1e-5)


def test_trains_on_every_interval():
    X, y = toy(n=20)
    clf = fast(max_epochs=1, batch_size=5).fit(X, y)
    # 20 songs in batches of 5 songs: 4 batches of 15 intervals each
    batches = clf.history_[-1]["batches"]
    assert len(batches) == 4
    seen = []
    orig = clf.module_.forward

    def spy(x):
        seen.append(x.shape[0])
        return orig(x)

    clf.module_.forward = spy
    clf.partial_fit(X, y)
    assert seen and set(seen) == {15}


def test_input_forms():
    X, y = toy(k=1)
    a = fast().fit(X, y).predict_proba(X)
    b = fast().fit(X[:, 0], y).predict_proba(X[:, 0])  # (n, F, T) means k = 1
    c = fast(input_shape=(16, 16)).fit(X.reshape(len(X), -1), y).predict_proba(
        X.reshape(len(X), -1))
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, c, atol=1e-5)
    with pytest.raises(ValueError, match="input_shape"):
        fast(input_shape=(15, 16)).fit(X.reshape(len(X), -1), y)


def test_float16_input_accepted():
    X, y = toy()
    clf = fast().fit(X.astype(np.float16), y)
    assert clf.predict_proba(X.astype(np.float16)).dtype == np.float32


def test_validation_split_is_by_song_and_stratified():
    X, y = toy(n=50)
    seen = {}

    class Spy(ValidSplit):
        def __call__(self, dataset, y=None, groups=None):
            train, valid = super().__call__(dataset, y, groups)
            seen["train"], seen["valid"] = train.indices, valid.indices
            return train, valid

    clf = fast(train_split=Spy(0.2, stratified=True, random_state=0)).fit(X, y)
    assert len(seen["valid"]) == 10
    assert not set(seen["train"]) & set(seen["valid"])  # rows are songs: no interval leaks
    assert y[seen["valid"]].mean() == pytest.approx(0.5)
    assert "valid_loss" in clf.history_[-1] and "valid_acc" in clf.history_[-1]


def test_class_weight():
    X, y = toy(n=40)
    y = np.where(np.arange(40) < 30, "no", "yes")
    clf = fast(class_weight="balanced", max_epochs=1).fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, [40 / (2 * 30), 40 / (2 * 10)])
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), clf.class_weight_)
    clf = fast(class_weight={"yes": 5.0}, max_epochs=1).fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, [1.0, 5.0])
    assert fast(max_epochs=1).fit(X, y).class_weight_ is None
    with pytest.raises(ValueError, match="class_weight"):
        fast(class_weight={"maybe": 2.0}).fit(X, y)


def test_same_seed_same_model_and_global_rng_untouched():
    X, y = toy()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    clf = fast().fit(X, y)
    after = torch.rand(1)
    assert torch.equal(before, after)  # fit did not consume or reseed the global generator
    p1 = clf.predict_proba(X)
    p2 = fast().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = fast(random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(p1, p3)


def test_fast_path_switch_gives_similar_accuracy():
    X, y = toy(n=60)
    Xt, yt = toy(n=60, seed=1)
    slow = fast(fast_path=False).fit(X, y)
    quick = fast(fast_path=True).fit(X, y)
    assert not slow._use_fast_path() and quick._use_fast_path()
    assert (quick.predict(Xt) == yt).mean() >= (slow.predict(Xt) == yt).mean() - 0.1


def test_early_stopping_and_callbacks_work():
    X, y = toy(n=40)
    clf = fast(max_epochs=50, train_split=ValidSplit(0.25, stratified=True, random_state=0),
               callbacks=[EarlyStopping(patience=2, threshold=10.0)]).fit(X, y)
    assert len(clf.history_) < 50


def test_set_params_module_and_paper_net():
    X = np.random.default_rng(0).random((6, 3, 160, 160)).astype(np.float32)
    y = np.array([0, 1] * 3)
    clf = SpectrogramCNNClassifier(PaperCNN, max_epochs=1, random_state=0).fit(X, y)
    assert isinstance(clf.module_, PaperCNN) and clf.module_.dense.in_features == 6400
    Xs, ys = toy()
    small = fast(max_epochs=1).set_params(module__channels=(4, 8)).fit(Xs, ys)
    assert small.module_.blocks[1][0].out_channels == 8


def test_device_auto_resolves_and_pickles():
    X, y = toy()
    # with a validation split, skorch's scoring callbacks read net.device during fit
    clf = fast(device="auto", train_split=SongValidSplit(0.25, min_songs=4)).fit(X, y)
    assert "valid_acc" in clf.history_[-1]
    assert clf.device == "auto"  # the parameter is left as given
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(clf.module_.parameters()).device.type == expected
    again = pickle.loads(pickle.dumps(clf))
    assert again.device == "auto"
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), rtol=1e-6)


def test_cuda_model_loads_on_cpu_only_machine(monkeypatch):
    """What can be tested without a GPU: a pickle whose device says cuda maps to the CPU."""
    X, y = toy()
    clf = fast().fit(X, y)
    state = clf.__getstate__()
    state["device"] = "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = SpectrogramCNNClassifier.__new__(SpectrogramCNNClassifier)
    with pytest.warns(Warning, match="CUDA|cuda"):
        restored.__setstate__(state)
    assert str(restored.device) == "cpu"
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X), rtol=1e-6)


def test_a_model_saved_before_filter_db_loads_without_it(tmp_path):
    X, y = toy()
    clf = fast(max_epochs=1).fit(X, y)
    old = copy.deepcopy(clf)
    del old.filter_db  # what a model pickled before the parameter holds
    joblib.dump(old, tmp_path / "old.joblib")
    loaded = joblib.load(tmp_path / "old.joblib")
    assert loaded.get_params()["filter_db"] == 0.0
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    loaded.partial_fit(X, y)  # trains on, as it was trained


def test_errors():
    X, y = toy()
    with pytest.raises(ValueError, match="one class only"):
        fast().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fast().fit(X, y[:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        fast().fit(X, np.linspace(0, 1, len(X)))
    clf = fast(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="fitted on"):
        clf.predict(X[:, :, :8])
    with pytest.raises(ValueError, match="labels not in classes_"):
        clf.partial_fit(X, np.full(len(X), 7))
    with pytest.raises(ValueError, match="got shape"):
        fast().fit(X[:, :, :, :, None], y)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fast().predict(X)


def test_different_number_of_intervals_at_predict():
    X, y = toy(k=3)
    clf = fast(max_epochs=1).fit(X, y)
    assert clf.predict_interval_proba(np.concatenate([X, X], axis=1)).shape == (len(X), 6, 2)


def test_validation_split_too_small_to_stratify_says_what_to_do():
    X, y = toy(n=10)
    y = np.array([1] + [0] * 9)
    with pytest.raises(ValueError, match="train_split=None"):
        fast(train_split=ValidSplit(0.2, stratified=True, random_state=0)).fit(X, y)


def test_crops_train_on_fresh_frames_and_predict_on_tiles():
    X, y = toy(n=20, shape=(16, 40))
    clf = fast(max_epochs=1, crop_frames=12, batch_size=5).fit(X, y)
    widths = []
    orig = clf.module_.forward

    def spy(x):
        widths.append(tuple(x.shape))
        return orig(x)

    clf.module_.forward = spy
    clf.partial_fit(X, y)  # training sees one 12-frame crop of every interval
    assert {w[0] for w in widths} == {15} and {w[-1] for w in widths} == {12}
    widths.clear()
    per_interval = clf.predict_interval_proba(X[:2])
    n_tiles = len(augment.crop_starts(40, 12))
    assert widths == [(2 * 3 * n_tiles, 1, 16, 12)]  # every tile of every interval
    clf.module_.forward = orig
    # an interval's probabilities are the mean of its tiles' probabilities
    tiles = augment.tile_crops(torch.from_numpy(X[:2]), 12)
    with torch.no_grad():
        clf.module_.eval()
        logits = forward.module_outputs(clf.module_, tiles, fast=clf._use_fast_path())
    expected = torch.softmax(logits, dim=-1).mean(dim=2).numpy()
    np.testing.assert_allclose(per_interval, expected, atol=1e-5)
    assert per_interval.shape == (2, 3, 2)


def test_augmented_training_repeats_under_random_state_and_learns():
    X, y = toy(n=40, shape=(16, 30))
    Xt, yt = toy(n=40, shape=(16, 30), seed=1)
    recipe = {"crop_frames": 20, "freq_mask": 0.2, "time_mask": 0.2, "n_masks": 2,
              "gain_db": 3.0, "filter_db": 3.0, "mixup": 0.4, "class_weight": "balanced"}
    a = fast(**recipe).fit(X, y)
    b = fast(**recipe).fit(X, y)
    c = fast(**{**recipe, "random_state": 1}).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert not np.array_equal(a.predict_proba(Xt), c.predict_proba(Xt))
    assert np.isfinite(a.history_[:, "train_loss"]).all()
    assert (a.predict(Xt) == yt).mean() > 0.8


@pytest.mark.parametrize("name, value", [
    ("crop_frames", 0), ("crop_frames", 2.5), ("crop_frames", True), ("crop_frames", "3"),
    ("freq_mask", 1.5), ("freq_mask", -0.1), ("time_mask", "wide"), ("n_masks", 0),
    ("gain_db", -1.0), ("filter_db", -3.0), ("filter_db", "6 dB"), ("mixup", float("nan")),
    ("mixup", None),
])
def test_bad_recipe_parameters_are_named(name, value):
    X, y = toy(n=10)
    with pytest.raises(ValueError, match=name):
        fast(max_epochs=1, **{name: value}).fit(X, y)
    with pytest.raises(ValueError, match=name):
        fast(max_epochs=1, **{name: value}).partial_fit(X, y)
