"""Contrastive pretraining: the loss, the encoder, init_from, the probe, songs like this one."""

from __future__ import annotations

import copy

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklearn_songpop import (
    ContrastiveEncoder,
    PaperCNN,
    SongNeighbors,
    SpectrogramCNNClassifier,
    SpectrogramCNNRegressor,
    SpectrogramTransformer,
    contrastive_loss,
    make_probe,
    make_songpop_pipeline,
    save_model,
)
from sklearn_songpop.songnet import body_state_from

SR = 8000


def _tone_songs(levels_db=(0.0, -24.0), n_songs=4, k=4, seconds=1.0, seed=0):
    """Songs that are each one steady tone; their intervals alternate between two levels.

    The level is a nuisance every song shares: an encoder that groups a song's
    intervals must look past it, at the pitch.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    freqs = np.geomspace(300, 2400, n_songs)
    X = np.empty((n_songs, k, t.size), np.float32)
    for i, f in enumerate(freqs):
        for j in range(k):
            gain = 10 ** (levels_db[j % len(levels_db)] / 20)
            X[i, j] = 0.5 * gain * np.sin(2 * np.pi * f * t) + 1e-3 * rng.standard_normal(t.size)
    return SpectrogramTransformer(kind="mel", sr=SR, n_fft=256, hop_length=64,
                                  n_mels=32).fit_transform(X)


def _within_to_between(E):
    """Mean cosine distance within songs over the mean between songs, for (n, k, d)."""
    n, k, _ = E.shape
    Z = E.reshape(n * k, -1)
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    dist = 1 - Z @ Z.T
    song = np.repeat(np.arange(n), k)
    same = (song[:, None] == song[None, :]) & ~np.eye(n * k, dtype=bool)
    other = song[:, None] != song[None, :]
    return dist[same].mean() / dist[other].mean()


@pytest.fixture(scope="module")
def spectrograms():
    rng = np.random.default_rng(0)
    return rng.standard_normal((16, 3, 16, 24)).astype(np.float32)


@pytest.fixture(scope="module")
def encoder(spectrograms):
    return ContrastiveEncoder(max_epochs=3, embedding_dim=8, batch_size=8,
                              random_state=0).fit(spectrograms)


# ---------------------------------------------------------------------------- the loss
def test_loss_matches_nt_xent_for_two_views():
    """With k = 2 the loss is SimCLR's NT-Xent, computed here the long way."""
    torch.manual_seed(0)
    z = torch.randn(3, 2, 5)
    tau = 0.3
    flat = torch.nn.functional.normalize(z.reshape(6, 5), dim=1)
    sim = flat @ flat.T / tau
    total = 0.0
    for i in range(6):
        j = i + 1 if i % 2 == 0 else i - 1
        others = [sim[i, a] for a in range(6) if a != i]
        total += -(sim[i, j] - torch.logsumexp(torch.stack(others), 0))
    assert torch.allclose(contrastive_loss(z, tau), total / 6, atol=1e-5)


def test_loss_prefers_views_of_one_song_together():
    together = torch.eye(3).repeat_interleave(2, 0).reshape(3, 2, 3)
    apart = together[:, [0, 1]].clone()
    apart[:, 1] = together[[1, 2, 0], 0]  # each song's second view looks like another song
    assert contrastive_loss(together) < contrastive_loss(apart)


def test_loss_without_positives_is_zero_with_a_gradient():
    z = torch.randn(4, 1, 3, requires_grad=True)
    loss = contrastive_loss(z)
    loss.backward()
    assert float(loss.detach()) == 0.0 and z.grad is not None


# ---------------------------------------------------------------------------- the encoder
def test_fit_transform_shapes_and_names(encoder, spectrograms):
    E = encoder.transform(spectrograms)
    assert E.shape == (16, 16) and E.dtype == np.float32  # pooling="mean_std"
    assert encoder.transform_intervals(spectrograms).shape == (16, 3, 8)
    np.testing.assert_allclose(encoder.transform_intervals(spectrograms).mean(axis=1), E[:, :8],
                               atol=1e-6)
    assert list(encoder.get_feature_names_out()) == [f"contrastiveencoder{i}" for i in range(16)]
    assert encoder.n_features_out_ == 16
    assert not hasattr(encoder, "predict_proba") and not hasattr(encoder, "predict")
    means = copy.deepcopy(encoder).set_params(pooling="mean")
    np.testing.assert_array_equal(means.transform(spectrograms), E[:, :8])
    assert means.get_feature_names_out().shape == (8,)


def test_mean_std_pooling_is_the_spread_of_the_crop_embeddings(encoder, spectrograms):
    """The second half of an embedding is the standard deviation over every crop that tiles
    the song's intervals, computed here crop by crop."""
    from sklearn_songpop import augment

    encoder = copy.deepcopy(encoder).set_params(crop_frames=10, fast_path=False)  # float32
    x = torch.as_tensor(spectrograms)
    crops = augment.tile_crops(x, 10)  # (songs, k, crops, bins, frames)
    assert crops.shape[2] > 1
    encoder.module_.eval()
    with torch.no_grad():
        each = np.stack([[[encoder.module_.embed(crops[i, j, c][None, None]).numpy()[0]
                           for c in range(crops.shape[2])] for j in range(crops.shape[1])]
                         for i in range(len(x))])
    flat = each.reshape(len(x), -1, each.shape[-1])
    E = encoder.transform(spectrograms)
    np.testing.assert_allclose(E[:, :8], flat.mean(axis=1), atol=1e-4)
    np.testing.assert_allclose(E[:, 8:], flat.std(axis=1), atol=1e-4)
    assert (E[:, 8:] > 0).any()


def test_pooling_is_checked(encoder, spectrograms):
    with pytest.raises(ValueError, match=r"'pooling' parameter of ContrastiveEncoder must be "
                       r"a str among .*'mean_std'.*\. Got 'max' instead"):
        clone(encoder).set_params(pooling="max").fit(spectrograms)
    with pytest.raises(ValueError, match="'pooling' parameter of ContrastiveEncoder must be"):
        copy.deepcopy(encoder).set_params(pooling="max").transform(spectrograms)


def test_encoder_novelty_uses_its_embeddings(encoder, spectrograms):
    assert encoder.novelty_reference_.embeddings.shape == (16, 8)
    seen = encoder.novelty(spectrograms)
    far = encoder.novelty(spectrograms * 50.0 + 30.0)
    assert seen.shape == (16,) and seen.mean() < far.mean() and (far == 1.0).all()


def test_same_seed_same_embeddings_other_seed_other(spectrograms, encoder):
    again = clone(encoder).fit(spectrograms)
    np.testing.assert_array_equal(again.transform(spectrograms), encoder.transform(spectrograms))
    other = clone(encoder).set_params(random_state=1).fit(spectrograms)
    assert not np.allclose(other.transform(spectrograms), encoder.transform(spectrograms))


def test_training_lowers_the_loss():
    X = _tone_songs(n_songs=6)
    enc = ContrastiveEncoder(max_epochs=15, embedding_dim=16, batch_size=6, lr=3e-3,
                             random_state=0).fit(X)
    losses = np.asarray(enc.history_[:, "train_loss"])
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])


def test_intervals_of_a_song_cluster_together_after_training():
    """Positives are same-song pairs: the intervals of one tone end up together, whatever
    their level, and closer than before training."""
    X = _tone_songs()
    enc = ContrastiveEncoder(max_epochs=40, embedding_dim=16, batch_size=4, lr=3e-3,
                             gain_db=0.0, positives="song", random_state=0)
    enc.set_params(max_epochs=0).fit(X)
    before = _within_to_between(enc.transform_intervals(X))
    enc.set_params(max_epochs=40).fit(X)
    after = _within_to_between(enc.transform_intervals(X))
    assert after < 0.5 * before
    assert after < 0.25


def test_n_init_keeps_the_start_of_lowest_final_loss(encoder, spectrograms):
    three = clone(encoder).set_params(n_init=3).fit(spectrograms)
    losses = three.init_losses_
    assert losses.shape == (3,) and len(np.unique(losses)) == 3  # three different starts
    assert three._final_loss() == losses.min()
    # the kept network is the clone of its own seed, refitted alone
    seeds = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=3)
    alone = clone(encoder).set_params(random_state=int(seeds[losses.argmin()])).fit(spectrograms)
    np.testing.assert_array_equal(three.transform(spectrograms), alone.transform(spectrograms))
    # parameters are the caller's, not the kept start's; refits repeat
    assert three.get_params()["random_state"] == 0 and three.get_params()["n_init"] == 3
    again = clone(three).fit(spectrograms)
    np.testing.assert_array_equal(again.init_losses_, losses)
    assert encoder.init_losses_.shape == (1,)


def test_one_interval_per_song_trains_on_two_views(spectrograms):
    enc = ContrastiveEncoder(max_epochs=2, embedding_dim=4, crop_frames=12,
                             random_state=0).fit(spectrograms[:, 0])
    assert enc.transform(spectrograms[:, 0]).shape == (16, 8)  # mean and std of 4
    assert np.all(np.asarray(enc.history_[:, "train_loss"]) > 0)


def test_views_pair_crops_of_an_interval_or_intervals_of_a_song(encoder, spectrograms):
    x = torch.as_tensor(spectrograms[:4])
    y = torch.zeros(4)
    by_interval = clone(encoder).set_params(positives="interval", crop_frames=10)
    views, _ = by_interval.augment_batch(x, y)
    assert views.shape == (12, 2, 16, 10)  # every interval a group of two crops
    by_song = clone(encoder).set_params(positives="song", crop_frames=10)
    views, _ = by_song.augment_batch(x, y)
    assert views.shape == (4, 3, 16, 10)  # every song a group of its intervals


@pytest.mark.parametrize(("param", "value", "match"), [
    ("embedding_dim", 0, r"'embedding_dim' .* must be an int in the range \[1, inf\)\. Got 0"),
    ("projection_dim", 2.5, r"'projection_dim' .* must be an int in the range \[1, inf\)"),
    ("temperature", 0.0, r"'temperature' .* must be a float in the range \(0\.0, inf\)\. Got 0\.0"),
    ("mixup", 0.4, "needs mixup=0"),
    ("positives", "artist", r"'positives' .* must be a str among .*'song'.*\. Got 'artist'"),
    ("n_init", 0, r"'n_init' .* must be an int in the range \[1, inf\)\. Got 0 instead"),
    ("n_init", 1.5, r"'n_init' .* must be an int in the range \[1, inf\)\. Got 1\.5 instead"),
])
def test_bad_parameters_raise_clearly(spectrograms, param, value, match):
    with pytest.raises(ValueError, match=match):
        ContrastiveEncoder(max_epochs=1, **{param: value}).fit(spectrograms)


def test_joblib_round_trip(encoder, spectrograms, tmp_path):
    joblib.dump(encoder, tmp_path / "enc.joblib")
    again = joblib.load(tmp_path / "enc.joblib")
    np.testing.assert_array_equal(again.transform(spectrograms), encoder.transform(spectrograms))


def test_an_encoder_saved_before_pooling_and_n_init_loads_as_it_was(encoder, spectrograms,
                                                                     tmp_path):
    old = copy.deepcopy(encoder)
    del old.pooling, old.n_init  # what an encoder pickled before these parameters holds
    joblib.dump(old, tmp_path / "old.joblib")
    loaded = joblib.load(tmp_path / "old.joblib")
    assert loaded.get_params()["pooling"] == "mean" and loaded.get_params()["n_init"] == 1
    np.testing.assert_allclose(loaded.transform(spectrograms),
                               encoder.transform_intervals(spectrograms).mean(axis=1),
                               rtol=1e-5, atol=1e-6)
    assert clone(loaded).get_params()["n_init"] == 1


def test_cuda_encoder_loads_on_cpu_only_machine(encoder, spectrograms, monkeypatch):
    """What can be tested without a GPU: a pickle whose device says cuda maps to the CPU."""
    state = encoder.__getstate__()
    state["device"] = "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = ContrastiveEncoder.__new__(ContrastiveEncoder)
    with pytest.warns(Warning, match="CUDA|cuda"):
        restored.__setstate__(state)
    assert str(restored.device) == "cpu"
    np.testing.assert_allclose(restored.transform(spectrograms), encoder.transform(spectrograms),
                               rtol=1e-6)


def test_pretraining_pipeline_is_the_default_front_end_and_needs_that_preset():
    pipe = make_songpop_pipeline(task="pretraining")
    assert [name for name, _ in pipe.steps] == ["intervals", "spectrogram", "encoder"]
    assert pipe[-1].crop_frames == make_songpop_pipeline()[-1].crop_frames
    assert pipe[-1].n_init == 2
    with pytest.raises(ValueError, match="no settings for task='pretraining'"):
        make_songpop_pipeline("paper", task="pretraining")


# ---------------------------------------------------------------------------- init_from
def _body(net):
    return net.module_.body_state_dict()


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("estimator", [SpectrogramCNNClassifier, SpectrogramCNNRegressor])
def test_init_from_copies_the_body_and_freezing_keeps_it(estimator, encoder, spectrograms):
    y = np.arange(16) % 2
    frozen = estimator(init_from=encoder, freeze_epochs=1, max_epochs=1, random_state=0)
    frozen.fit(spectrograms, y)
    assert _equal(_body(frozen), _body(encoder))  # weights and batch-norm statistics
    thawed = estimator(init_from=encoder, freeze_epochs=1, max_epochs=2, random_state=0)
    thawed.fit(spectrograms, y)
    assert not _equal(_body(thawed), _body(encoder))
    assert all(p.requires_grad for p in thawed.module_.parameters())
    scratch = estimator(max_epochs=1, random_state=0).fit(spectrograms, y)
    assert not _equal(_body(scratch), _body(encoder))


def test_init_from_a_file_a_pipeline_or_a_frozen_encoder(encoder, spectrograms, tmp_path):
    path = tmp_path / "encoder.joblib"
    save_model(encoder, path)
    y = np.arange(16) % 2
    for source in (str(path), path, FrozenEstimator(encoder),
                   make_probe(encoder).fit(spectrograms, y)[:1]):
        clf = SpectrogramCNNClassifier(init_from=source, max_epochs=0, random_state=0)
        clf.fit(spectrograms, y)
        assert _equal(_body(clf), _body(encoder)), source
    # a clone keeps a FrozenEstimator, so cross-validation starts every fold from it
    clf = clone(SpectrogramCNNClassifier(init_from=FrozenEstimator(encoder), max_epochs=0))
    assert _equal(_body(clf.fit(spectrograms, y)), _body(encoder))


def test_an_instance_normalised_body_starts_a_network_that_reads_input_the_same_way(
        spectrograms):
    encoder = ContrastiveEncoder(max_epochs=1, embedding_dim=8, batch_size=8,
                                 module__instance_norm=True, fast_path=False,
                                 random_state=0).fit(spectrograms)
    y = np.arange(16) % 2
    clf = SpectrogramCNNClassifier(init_from=encoder, module__instance_norm=True,
                                   max_epochs=0, random_state=0).fit(spectrograms, y)
    assert _equal(_body(clf), _body(encoder))
    # its embeddings do not move with the level or contrast of the input (in float32;
    # bfloat16 rounds the two inputs differently)
    np.testing.assert_allclose(encoder.transform(3 * spectrograms - 5),
                               encoder.transform(spectrograms), atol=1e-4)


def test_init_from_errors_are_clear(encoder, spectrograms, tmp_path):
    y = np.arange(16) % 2
    with pytest.raises(ValueError, match="is not fitted. clone"):
        SpectrogramCNNClassifier(init_from=clone(encoder), max_epochs=1).fit(spectrograms, y)
    with pytest.raises(FileNotFoundError, match="init_from: .*missing.joblib"):
        SpectrogramCNNClassifier(init_from=tmp_path / "missing.joblib").fit(spectrograms, y)
    with pytest.raises(ValueError, match="init_from must be a fitted"):
        body_state_from(np.zeros(3))
    with pytest.raises(ValueError, match="channels"):
        SpectrogramCNNClassifier(init_from=encoder, module__channels=(8, 8),
                                 max_epochs=1).fit(spectrograms, y)
    with pytest.raises(ValueError, match="trained with instance_norm=False, this network "
                                         "has instance_norm=True"):
        SpectrogramCNNClassifier(init_from=encoder, module__instance_norm=True,
                                 max_epochs=1).fit(spectrograms, y)
    with pytest.raises(ValueError, match="instance_norm must be True or False"):
        SpectrogramCNNClassifier(module__instance_norm="no", max_epochs=1).fit(spectrograms, y)
    with pytest.raises(ValueError, match="PaperCNN has none"):
        SpectrogramCNNClassifier(PaperCNN, init_from=encoder, module__input_shape=(16, 24),
                                 max_epochs=1).fit(spectrograms, y)
    with pytest.raises(ValueError, match="init_from is None"):
        SpectrogramCNNClassifier(freeze_epochs=2).fit(spectrograms, y)
    with pytest.raises(ValueError, match=r"'freeze_epochs' parameter of "
                       r"SpectrogramCNNClassifier must be an int in the range \[0, inf\)\. "
                       r"Got -1 instead"):
        SpectrogramCNNClassifier(init_from=encoder, freeze_epochs=-1).fit(spectrograms, y)


# ---------------------------------------------------------------------------- the probe
def test_probe_grid_search_by_group_leaves_the_encoder_alone(encoder, spectrograms):
    y = np.arange(16) % 2
    groups = np.repeat(np.arange(4), 4)
    before = {k: v.clone() for k, v in _body(encoder).items()}
    search = GridSearchCV(make_probe(encoder), {"classifier__C": [0.1, 1.0]},
                          cv=GroupKFold(4), scoring="roc_auc")
    search.fit(spectrograms, y, groups=groups)
    assert search.best_estimator_.predict_proba(spectrograms).shape == (16, 2)
    assert _equal(_body(encoder), before)
    reg = make_probe(encoder, task="regression").fit(spectrograms, y.astype(float))
    assert reg.predict(spectrograms).shape == (16,)


def test_probe_needs_a_fitted_encoder(encoder):
    with pytest.raises(ValueError, match="an unfitted ContrastiveEncoder"):
        make_probe(clone(encoder))
    with pytest.raises(ValueError, match="task must be"):
        make_probe(encoder, task="ranking")


# ---------------------------------------------------------------------------- similar songs
def test_a_song_finds_its_own_duplicate_first(small_songs):
    waves = np.stack(small_songs.waveforms)[:12]
    pipe = make_songpop_pipeline(task="pretraining", random_state=0, intervals__duration=2.0,
                                 encoder__max_epochs=2, encoder__crop_frames=40)
    pipe.fit(waves)
    catalogue = np.concatenate([waves, waves[3:4]])
    names = [f"song{i}" for i in range(12)] + ["copy of song3"]
    index = SongNeighbors(pipe, n_neighbors=3).fit(catalogue, names=names)
    found = index.similar(waves[3:4])[0]
    assert {name for name, _ in found[:2]} == {"song3", "copy of song3"}
    assert found[0][1] < 1e-5 and found[2][1] > found[1][1]
    distances, indices = index.kneighbors(waves[:2], n_neighbors=50)
    assert distances.shape == (2, 13) and np.all(np.diff(distances, axis=1) >= 0)


def test_song_neighbors_errors():
    from sklearn.preprocessing import FunctionTransformer

    embed = FunctionTransformer(lambda X: np.asarray(X, dtype=float))
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        SongNeighbors(embed, n_neighbors=0).fit([[0.0]])
    with pytest.raises(ValueError, match="names holds 1 names for 2 songs"):
        SongNeighbors(embed).fit([[0.0], [1.0]], names=["a"])
    flat = FunctionTransformer(lambda X: np.asarray(X, dtype=float)[:, 0])
    with pytest.raises(ValueError, match="one embedding per song"):
        SongNeighbors(flat).fit([[0.0], [1.0]])
