"""Song-level model selection: the validation split, its score and early stopping."""

import numpy as np
import pytest
from skorch.dataset import Dataset, ValidSplit

from sklearn_songpop.classifier import SpectrogramCNNClassifier
from sklearn_songpop.training import SongEarlyStopping, SongValidSplit, song_roc_auc

from .test_classifier import toy


class FixedProba:
    def __init__(self, p):
        self.p = np.asarray(p, float)

    def predict_proba(self, X):
        return np.stack([1 - self.p, self.p], axis=1)


def test_song_auc_scores_songs_and_refuses_one_class_models():
    y = np.array([0] * 10 + [1] * 10)
    ranked = np.linspace(0.3, 0.7, 20)
    assert song_roc_auc(FixedProba(ranked), None, y) == 1.0
    # a perfect ranking that still puts 19 of 20 songs in one class is worth nothing
    stuck = np.r_[np.linspace(0.01, 0.4, 19), 0.9]
    assert song_roc_auc(FixedProba(stuck), None, y) == 0.0
    assert np.isnan(song_roc_auc(FixedProba(ranked), None, np.zeros(20)))


def test_song_auc_of_three_classes():
    class Three:
        def __init__(self, p):
            self.p = np.asarray(p, float)

        def predict_proba(self, X):
            return self.p

    proba = [[.6, .3, .1], [.2, .7, .1], [.1, .2, .7], [.1, .8, .1]]
    assert song_roc_auc(Three(proba), None, np.array([0, 1, 2, 1])) == 1.0
    with pytest.warns(Warning):  # a class absent from the songs: no one-vs-rest score
        assert np.isnan(song_roc_auc(Three(proba), None, np.array([0, 1, 0, 1])))


def test_split_is_made_only_when_the_validation_part_is_large_enough():
    y = np.array([0] * 300 + [1] * 100)
    data = Dataset(np.zeros((400, 1)), y)
    train, valid = SongValidSplit(0.2, min_songs=20)(data, y)
    assert len(valid) == 80 and y[valid.indices].sum() == 20  # stratified
    assert not set(train.indices) & set(valid.indices)
    skorch_split = ValidSplit(0.2, stratified=True, random_state=0)
    shuffled = skorch_split(data, y)[1].indices
    assert list(valid.indices) == list(shuffled)  # skorch's split, where it is made
    # the network lists any split's validation songs in their order in X (see test_store)
    net = SpectrogramCNNClassifier(train_split=skorch_split)
    assert list(net.get_split_datasets(data, y)[1].indices) == sorted(shuffled) != list(shuffled)
    train, valid = SongValidSplit(0.2, min_songs=21)(data, y)
    assert valid is None and len(train) == 400
    assert SongValidSplit(5, min_songs=0)(data, y)[1] is not None  # an int cv: one fold of 5
    assert SongValidSplit(0.2, stratified=False).expected_valid_songs(y) == 80
    with pytest.raises(ValueError, match="min_songs"):
        SongValidSplit(min_songs=-1)


def test_early_stopping_is_idle_without_a_split_and_keeps_the_best_song_epoch():
    X, y = toy(n=40)
    common = {"max_epochs": 12, "random_state": 0, "lr": 3e-3}
    idle = SpectrogramCNNClassifier(
        train_split=SongValidSplit(0.25, min_songs=50),
        callbacks=[("early_stopping", SongEarlyStopping(patience=2))], **common).fit(X, y)
    assert len(idle.history_) == 12 and "valid_song_auc" not in idle.history_[-1]
    stopping = SongEarlyStopping(patience=3)
    clf = SpectrogramCNNClassifier(
        train_split=SongValidSplit(0.25, min_songs=2),
        callbacks=[("early_stopping", stopping)], **common).fit(X, y)
    scores = clf.history_[:, "valid_song_auc"]
    assert len(scores) < 12  # stopped early
    best = int(np.argmax(scores)) + 1
    assert stopping.best_epoch_ == best
    # the restored weights are the best epoch's: the validation songs score as then
    valid_idx = SongValidSplit(0.25, min_songs=2)(Dataset(X, y), y)[1].indices
    assert song_roc_auc(clf, X[valid_idx], y[valid_idx]) == pytest.approx(max(scores))


def test_cosine_schedule_follows_max_epochs_and_restores_the_rate():
    from skorch.callbacks import Callback

    from sklearn_songpop.training import CosineSchedule

    class Rates(Callback):
        def initialize(self):
            self.seen = []
            return self

        def on_epoch_end(self, net, **kwargs):
            self.seen.append(net.optimizer_.param_groups[0]["lr"])

    X, y = toy(n=20)
    schedule, rates = CosineSchedule(), Rates()
    clf = SpectrogramCNNClassifier(max_epochs=6, lr=0.01, random_state=0,
                                   callbacks=[("lr_schedule", schedule), ("rates", rates)])
    clf.fit(X, y)
    expected = [schedule.lr_at(e, 6, 0.01) for e in range(6)]
    np.testing.assert_allclose(rates.seen, expected)
    assert expected[0] == 0.01 and expected[-1] < 0.001 and np.all(np.diff(expected) < 0)
    assert clf.optimizer_.param_groups[0]["lr"] == 0.01  # back to lr for a later partial_fit
    clf.set_params(max_epochs=3).partial_fit(X, y)  # the schedule spans the new fit alone
    np.testing.assert_allclose(rates.seen[-3:], [schedule.lr_at(e, 3, 0.01) for e in range(3)])
    with pytest.raises(ValueError, match="final_share"):
        SpectrogramCNNClassifier(max_epochs=1, callbacks=[CosineSchedule(final_share=2.0)]).fit(
            X, y)


def test_epoch_progress_counts_epochs_and_leaves_nothing_to_pickle(capsys):
    import pickle

    from sklearn_songpop.training import EpochProgress

    X, y = toy(n=12)
    clf = SpectrogramCNNClassifier(max_epochs=3, random_state=0, train_split=None,
                                   callbacks=[("progress", EpochProgress("fit"))]).fit(X, y)
    err = capsys.readouterr().err
    assert "fit: 100%" in err and "3/3" in err and "loss=" in err
    assert "/12" not in err  # epochs, not songs or batches
    again = pickle.loads(pickle.dumps(clf))
    assert not hasattr(again.callbacks_[-1][1], "bar_")
