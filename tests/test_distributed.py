"""Data-parallel training: each process's share of every batch, and two gloo processes
under torchrun training the model of one."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import RandomSampler

from sklearn_songpop import SpectrogramCNNClassifier, make_songpop_pipeline, make_songs
from sklearn_songpop.batching import ShardedBatchSampler
from sklearn_songpop.store import ChunkShuffleSampler

_FIT = Path(__file__).with_name("distributed_fit.py")


def _torchrun(*args: str, cwd=None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.parametrize("order", ["store chunks", "arrays"])
def test_each_process_takes_its_share_of_the_batches_of_one_order(order):
    def sampler(seed):
        generator = torch.Generator().manual_seed(seed)
        if order == "arrays":
            return RandomSampler(range(23), generator=generator)
        return ChunkShuffleSampler(np.arange(23), chunk_songs=5, generator=generator)

    whole = [list(b) for b in torch.utils.data.BatchSampler(sampler(7), 4, drop_last=False)]
    shares = [list(ShardedBatchSampler(sampler(7), 4, rank, 3)) for rank in range(3)]
    assert [len(s) for s in shares] == [len(ShardedBatchSampler(sampler(7), 4, 0, 3))] * 3
    steps = [sorted(a + b + c) for a, b, c in zip(*shares)]
    # the same batches as one process, but the last (3 songs: one for each of 3 processes)
    assert steps == [sorted(b) for b in whole]
    assert sorted(sum(steps, [])) == list(range(23))  # every song once
    with pytest.raises(ValueError, match="rank must be in"):
        ShardedBatchSampler(sampler(7), 4, 3, 3)
    with pytest.raises(ValueError, match=r"batch_size=4 is the whole batch, split over 8"):
        ShardedBatchSampler(sampler(7), 4, 0, 8)
    # a last batch with fewer songs than processes is left out: none may train on nothing
    assert len(list(ShardedBatchSampler(sampler(7), 4, 0, 4))) == 5


def test_distributed_training_needs_the_processes_of_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    X = np.zeros((4, 1, 8, 10), np.float32)
    with pytest.raises(RuntimeError, match="not started by torchrun"):
        SpectrogramCNNClassifier(distributed=True, max_epochs=1).fit(X, [0, 1, 0, 1])


@pytest.mark.slow  # starts two sets of two processes (about 15 s)
def test_two_processes_train_one_model(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 2, 8, 12)).astype(np.float32)
    y = (X[:, :, :2].mean(axis=(1, 2, 3)) > 0).astype(int)
    np.savez(tmp_path / "data.npz", X=X, y=y, X_test=X[:8])
    # nothing random in the network or the order: the same batches must give the same weights
    plain = ["module=MeanLinear", "max_epochs=3", "batch_size=8", "fast_path=False",
             "iterator_train__shuffle=False"]
    # batch norm, dropout, crops and masks differ in each process; a validation split
    # without a seed, and early stopping on it: a process that stopped alone would hang
    X2 = rng.standard_normal((40, 2, 8, 24)).astype(np.float32)
    y2 = (X2[:, :, :2].mean(axis=(1, 2, 3)) > 0).astype(int)
    np.savez(tmp_path / "data2.npz", X=X2, y=y2, X_test=X2[:8])
    rich = ["max_epochs=6", "batch_size=8", "module__channels=(4, 8)", "crop_frames=16",
            "freq_mask=0.2", "train_split=unseeded_split", "callbacks=early_stopping"]
    sys.path.insert(0, str(_FIT.parent))
    try:
        from distributed_fit import main
    finally:
        sys.path.pop(0)
    main(str(tmp_path / "data.npz"), str(tmp_path / "one"), *plain)
    _torchrun(str(_FIT), str(tmp_path / "data.npz"), str(tmp_path / "two"), *plain,
              "--", str(tmp_path / "data2.npz"), str(tmp_path / "rich"), *rich)
    one, *two = (np.load(tmp_path / f"{name}.npz") for name in ("one_0", "two_0", "two_1"))
    for rank in two:
        np.testing.assert_allclose(rank["weights"], one["weights"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(rank["proba"], one["proba"], rtol=0, atol=1e-6)
        assert int(rank["epochs"]) == 3
    # the processes agree on the split, the batch-norm statistics and when to stop
    first, second = (np.load(tmp_path / f"rich_{rank}.npz") for rank in (0, 1))
    assert int(first["epochs"]) == int(second["epochs"])
    np.testing.assert_array_equal(first["weights"], second["weights"])
    np.testing.assert_array_equal(first["proba"], second["proba"])

    # the command line under torchrun: shuffled batches from a store, one model saved
    from sklearn_songpop.store import write_features

    songs = make_songs(n_songs=8, n_artists=4, duration=8.0, random_state=0)
    front = make_songpop_pipeline("default", random_state=0)[:-1]
    write_features(songs.waveforms, tmp_path / "s.zarr", front, y=songs.y, chunk_songs=4)
    done = _torchrun("-m", "sklearn_songpop.cli", "train", "--features",
                     str(tmp_path / "s.zarr"), "--out", str(tmp_path / "model.joblib"),
                     "--set", "classifier__max_epochs=2", "--set", "classifier__batch_size=4",
                     "--set", "classifier__module__channels=(4, 8)",
                     "--device", "cpu")
    assert done.stdout.count("model saved to") == 1  # the first process reports and saves
    from sklearn_songpop import load_model

    model = load_model(tmp_path / "model.joblib")
    # saved to fit again in one process, and without the fit's process group
    assert model[-1].distributed is False and not hasattr(model[-1], "data_parallel_")
    assert model.predict_proba(songs.waveforms[:3]).shape == (3, 2)

