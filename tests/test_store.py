"""The on-disk feature store: round trip, resuming after a crash, bad songs, settings."""

import numpy as np
import pytest

from sklearn_songpop import AudioError, make_songpop_pipeline, make_songs
from sklearn_songpop import store as store_module
from sklearn_songpop.datasets import write_songs
from sklearn_songpop.store import FeatureStore, write_features

zarr = pytest.importorskip("zarr", minversion="3")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    songs = make_songs(n_songs=7, n_artists=3, duration=8.0, random_state=0)
    manifest = write_songs(songs, tmp_path_factory.mktemp("songs"), format="wav")
    paths = sorted(str(p) for p in manifest.parent.glob("*.wav"))
    return paths, songs.y, songs.groups


@pytest.fixture(scope="module")
def front():
    return make_songpop_pipeline("default", random_state=0)[:-1]


def test_round_trip(corpus, front, tmp_path):
    paths, y, groups = corpus
    fs = write_features(paths, tmp_path / "s.zarr", front, y=y, groups=groups, chunk_songs=3)
    expected = front.fit(paths).transform(paths)
    assert len(fs) == 7 and fs.shape == expected.shape and fs.complete
    raw = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")["spectrograms"]
    assert raw.dtype == np.float16 and raw.chunks[0] == 3
    np.testing.assert_allclose(fs[:], expected, atol=0.05)  # float16 of dB values
    assert fs[2:4].dtype == np.float32
    assert fs.ids == paths and fs.y.tolist() == list(y) and fs.groups.tolist() == list(groups)
    assert fs.settings["intervals"]["params"]["duration"] == 6.0
    assert (fs.status == 1).all() and fs.failures == {}
    again = FeatureStore(tmp_path / "s.zarr")
    np.testing.assert_array_equal(again[:], fs[:])


def test_resume_after_a_crash_mid_chunk(corpus, front, tmp_path, monkeypatch):
    paths, y, _ = corpus
    whole = write_features(paths, tmp_path / "whole.zarr", front, y=y, chunk_songs=2)

    real_chunk = store_module._chunk
    calls = []

    def crash_on_third(front, songs, *args):
        calls.append(songs[0])
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed while computing the third chunk
        return real_chunk(front, songs, *args)

    monkeypatch.setattr(store_module, "_chunk", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        write_features(paths, tmp_path / "cut.zarr", front, y=y, chunk_songs=2)
    root = zarr.open_group(str(tmp_path / "cut.zarr"), mode="a")
    assert root["done"][:].tolist() == [True, True, False, False]
    # what a kill in the middle of writing the third chunk leaves: part of its rows
    root["spectrograms"][4:5] = np.full((1, *root["spectrograms"].shape[1:]), 7.0)
    root["status"][4:5] = 1
    monkeypatch.setattr(store_module, "_chunk", real_chunk)
    resumed = write_features(paths, tmp_path / "cut.zarr", front, y=y, chunk_songs=2)
    assert resumed.complete
    np.testing.assert_array_equal(resumed[:], whole[:])
    np.testing.assert_array_equal(resumed.status, whole.status)


def test_only_unfinished_chunks_are_computed_again(corpus, front, tmp_path, monkeypatch):
    paths, _, _ = corpus
    write_features(paths, tmp_path / "s.zarr", front, chunk_songs=3)
    seen = []
    real_chunk = store_module._chunk
    monkeypatch.setattr(store_module, "_chunk",
                        lambda front, songs, *a: seen.append(songs) or real_chunk(front, songs, *a))
    write_features(paths, tmp_path / "s.zarr", front, chunk_songs=3)
    assert seen == []


def test_bad_songs_stop_or_skip(corpus, front, tmp_path):
    paths, _, _ = corpus
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00 not audio at all")
    songs = [*paths[:3], str(bad), *paths[3:5]]
    with pytest.raises(AudioError, match="broken.wav"):
        write_features(songs, tmp_path / "stop.zarr", front, chunk_songs=2)
    left = zarr.open_group(str(tmp_path / "stop.zarr"), mode="r")
    assert left["done"][:].tolist() == [True, False, False]  # the first chunk stays
    fs = write_features(songs, tmp_path / "skip.zarr", front, chunk_songs=2, on_error="skip")
    assert fs.status.tolist() == [1, 1, 1, 2, 1, 1]
    assert list(fs.failures) == [str(bad)] and "not a recognised audio file" in fs.failures[
        str(bad)]
    good = front.fit(paths[3:5]).transform(paths[3:5])
    np.testing.assert_allclose(fs[4:6], good, atol=0.05)
    assert not fs[3].any()
    # a chunk whose every song failed is all zeros, which Zarr does not write to disk
    alone = write_features([paths[0], str(bad)], tmp_path / "alone.zarr", front,
                           chunk_songs=1, on_error="skip")
    assert not (tmp_path / "alone.zarr" / "spectrograms" / "c" / "1").exists()
    assert alone.read_chunk(1).shape == (1, *good.shape[1:]) and not alone.read_chunk(1).any()


def test_a_store_is_finished_only_with_its_own_songs_and_settings(corpus, front, tmp_path):
    paths, _, _ = corpus
    write_features(paths[:4], tmp_path / "s.zarr", front, chunk_songs=2)
    with pytest.raises(ValueError, match="other songs"):
        write_features(paths[:5], tmp_path / "s.zarr", front, chunk_songs=2)
    other = make_songpop_pipeline("default", random_state=0,
                                  spectrogram__n_mels=32)[:-1]
    with pytest.raises(ValueError, match="other front-end settings"):
        write_features(paths[:4], tmp_path / "s.zarr", other, chunk_songs=2)
    fs = FeatureStore(tmp_path / "s.zarr")
    fs.check_front_end(front.fit(paths[:1]))
    with pytest.raises(ValueError, match=r"other settings than this model's \(steps "
                                         r"\['spectrogram'\] differ\)"):
        fs.check_front_end(other.fit(paths[:1]))


@pytest.mark.parametrize("compression", [None, "lz4", "zstd"])
@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_chunks_read_directly_equal_zarrs_reading(corpus, front, tmp_path, compression, dtype):
    paths, y, _ = corpus
    fs = write_features(paths, tmp_path / "s.zarr", front, y=y, chunk_songs=3, dtype=dtype,
                        compression=compression)
    raw = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")["spectrograms"]
    assert len(raw.metadata.codecs) == (1 if compression is None else 2)
    assert fs._decode is not None  # read without Zarr
    for c in range(3):  # the last chunk holds one song
        chunk = fs.read_chunk(c)
        assert chunk.dtype == np.dtype(dtype) and chunk.flags.writeable
        np.testing.assert_array_equal(chunk, raw[3 * c:3 * c + 3])
    with pytest.raises(IndexError, match="no chunk 3"):
        fs.read_chunk(3)


def test_a_store_of_another_layout_is_read_through_zarr(tmp_path):
    root = zarr.open_group(str(tmp_path / "other.zarr"), mode="w")
    values = np.arange(5 * 2 * 3 * 4, dtype=np.float16).reshape(5, 2, 3, 4)
    root.create_array("spectrograms", shape=values.shape, chunks=(2, 2, 3, 2), dtype="float16")
    root["spectrograms"][:] = values
    root.create_array("status", shape=(5,), chunks=(2,), dtype="int8")[:] = 1
    root.create_array("done", shape=(3,), chunks=(1,), dtype="bool")[:] = True
    root.attrs.update({"format": store_module.STORE_FORMAT, "ids": list("abcde"), "y": None,
                       "groups": None, "settings": {}, "chunk_songs": 2, "dtype": "float16"})
    fs = FeatureStore(tmp_path / "other.zarr")
    assert fs._decode is None  # chunks split along frames: not this package's layout
    np.testing.assert_array_equal(fs.read_chunk(2), values[4:])


def test_bad_arguments(corpus, front, tmp_path):
    paths, _, _ = corpus
    with pytest.raises(ValueError, match="on_error must be"):
        write_features(paths, tmp_path / "a", front, on_error="ignore")
    with pytest.raises(ValueError, match="chunk_songs must be"):
        write_features(paths, tmp_path / "a", front, chunk_songs=0)
    with pytest.raises(ValueError, match="compression must be None, 'lz4' or 'zstd'"):
        write_features(paths, tmp_path / "a", front, compression="gzip")
    with pytest.raises(ValueError, match="y has 2 entries for 7 songs"):
        write_features(paths, tmp_path / "a", front, y=[0, 1])
    with pytest.raises(FileNotFoundError, match="no feature store here"):
        FeatureStore(tmp_path / "nothing")


# ---------------------------------------------------------------------- training from a store
@pytest.fixture(scope="module")
def stored(corpus, front, tmp_path_factory):
    paths, y, groups = corpus
    folder = tmp_path_factory.mktemp("stored")
    fs = write_features(paths, folder / "s.zarr", front, y=y, groups=groups, chunk_songs=3,
                        dtype="float32")
    return fs, front.fit(paths).transform(paths)


def test_training_from_a_store_equals_training_in_memory(stored):
    from sklearn_songpop import SpectrogramCNNClassifier

    fs, X = stored
    params = dict(max_epochs=2, random_state=0, iterator_train__shuffle=False, batch_size=2)
    from_store = SpectrogramCNNClassifier(**params).fit(fs)  # the store's own labels
    in_memory = SpectrogramCNNClassifier(**params).fit(X, fs.y)
    np.testing.assert_array_equal(from_store.predict_proba(X), in_memory.predict_proba(X))
    np.testing.assert_array_equal(from_store.predict_proba(fs), in_memory.predict_proba(X))
    assert from_store.input_shape_ == X.shape[1:]
    np.testing.assert_allclose(from_store.novelty(X), in_memory.novelty(X))


def test_an_epoch_from_a_store_takes_every_song_once_in_a_repeatable_order(stored):
    import torch

    from sklearn_songpop import SpectrogramCNNClassifier
    from sklearn_songpop.batching import StoreLoader
    from sklearn_songpop.store import ChunkShuffleSampler, StoreDataset

    fs, X = stored
    clf = SpectrogramCNNClassifier(batch_size=2)
    loader = clf.get_iterator(StoreDataset(fs, y=np.arange(len(fs))), training=True)
    assert isinstance(loader, StoreLoader)
    assert isinstance(loader.batch_sampler.sampler, ChunkShuffleSampler)

    def epoch(seed):
        torch.manual_seed(seed)
        batches = list(loader)
        return (torch.cat([y for _, y in batches]).tolist(),
                torch.cat([x for x, _ in batches]).float().numpy())

    order, x = epoch(0)
    assert sorted(order) == list(range(len(fs)))  # every song once
    np.testing.assert_array_equal(x, X[order])  # each with its own spectrograms
    assert epoch(0)[0] == order  # the same seed, the same order
    assert any(epoch(seed)[0] != order for seed in range(1, 4))
    one = ChunkShuffleSampler(fs.rows, fs.chunk_songs, buffer_chunks=1)
    torch.manual_seed(0)
    chunks = [fs.rows[i] // fs.chunk_songs for i in one]
    assert chunks == sorted(chunks, key=chunks.index)  # each chunk's songs come together
    fits = [SpectrogramCNNClassifier(max_epochs=2, batch_size=2, random_state=0).fit(fs)
            for _ in range(2)]
    np.testing.assert_array_equal(fits[0].predict_proba(fs), fits[1].predict_proba(fs))


def test_reads_are_planned_once_a_chunk_within_the_limit():
    from sklearn_songpop.batching import _plan_reads

    needs = [[0], [0, 1], [2], [1], [0]]
    reads, drops = _plan_reads(needs, limit=8)
    assert reads == [0, 1, 2]  # each chunk once, from its first use
    assert drops == [([], []), ([], []), ([], [2]), ([], [1]), ([], [0])]  # after its last
    reads, drops = _plan_reads(needs, limit=2)
    # at batch 2, chunk 0 (next needed at 4) goes before chunk 1 (needed at 3)
    assert reads == [0, 1, 2, 0] and drops[2] == ([0], [2])


def test_validation_songs_are_read_a_chunk_at_a_time(stored, monkeypatch):
    from skorch.dataset import ValidSplit
    from torch.utils.data import Subset

    from sklearn_songpop import SpectrogramCNNClassifier
    from sklearn_songpop.store import StoreDataset
    from sklearn_songpop.training import SongValidSplit

    fs, _ = stored
    reads = []
    read = FeatureStore.read_chunk
    monkeypatch.setattr(FeatureStore, "read_chunk",
                        lambda self, c: reads.append(c) or read(self, c))

    def chunk_reads(valid):
        valid = Subset(StoreDataset(fs, y=valid.dataset.y, cache_chunks=1), valid.indices)
        reads.clear()  # from a fresh dataset, nothing cached
        batches = list(SpectrogramCNNClassifier(batch_size=1).get_iterator(valid))
        assert len(batches) == len(valid)
        return len(reads), {int(fs.rows[i]) // fs.chunk_songs for i in valid.indices}

    dataset = StoreDataset(fs, y=np.arange(len(fs)) % 2, cache_chunks=1)
    for split in (ValidSplit(0.5, False, random_state=2),
                  SongValidSplit(0.5, False, random_state=2, min_songs=0)):
        net = SpectrogramCNNClassifier(train_split=split)
        valid = net.get_split_datasets(dataset, dataset.y)[1]
        n_reads, touched = chunk_reads(valid)
        assert n_reads == len(touched)  # each chunk read once, whichever split made the part
        shuffled, same = chunk_reads(split(dataset, dataset.y)[1])  # the split's own order
        assert same == touched and shuffled > n_reads


def test_a_model_trained_on_a_store_predicts_audio_files(corpus, stored):
    from sklearn_songpop import ContrastiveEncoder, SpectrogramCNNClassifier

    paths, _, _ = corpus
    fs, X = stored
    clf = SpectrogramCNNClassifier(max_epochs=1, random_state=0).fit(fs)
    pipe = fs.pipeline(clf)
    assert [name for name, _ in pipe.steps] == ["intervals", "spectrogram", "classifier"]
    np.testing.assert_allclose(pipe.predict_proba(paths), clf.predict_proba(X), atol=1e-5)
    encoder = ContrastiveEncoder(max_epochs=1, embedding_dim=8, random_state=0).fit(fs)
    assert encoder.transform(fs).shape == (7, 16)  # the mean and the spread of 8 dimensions
    np.testing.assert_allclose(encoder.transform(fs), encoder.transform(X), atol=1e-5)


def test_a_store_is_read_ahead_with_its_own_options_only(stored):
    from sklearn_songpop import SpectrogramCNNClassifier
    from sklearn_songpop.store import StoreDataset

    fs, X = stored
    dataset = StoreDataset(fs, y=np.zeros(len(fs), dtype=np.int64))
    clf = SpectrogramCNNClassifier(iterator_train__num_workers=2)
    with pytest.raises(ValueError, match="StoreLoader.*has no num_workers"):
        clf.get_iterator(dataset, training=True)
    loader = SpectrogramCNNClassifier(iterator_valid__read_ahead=0,
                                      batch_size=3).get_iterator(dataset)
    x = np.concatenate([x.float().numpy() for x, _ in loader])  # in order, read in place
    np.testing.assert_array_equal(x, X)
