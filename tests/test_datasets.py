import numpy as np
import pytest

from sklearn_songpop.audio import AudioError
from sklearn_songpop.datasets import find_audio, load_manifest, make_songs, write_songs


def test_make_songs_contract():
    songs = make_songs(n_songs=50, popular_fraction=0.22, n_artists=5, duration=3.0,
                       random_state=0)
    assert len(songs.waveforms) == 50 and songs.y.shape == (50,) and songs.groups.shape == (50,)
    assert songs.y.sum() == 11  # round(0.22 * 50)
    assert set(np.unique(songs.groups)) <= set(range(5))
    for w in songs.waveforms:
        assert w.dtype == np.float32 and w.shape == (3 * songs.sr,)
        assert np.isfinite(w).all() and 0.5 < np.abs(w).max() <= 0.9 + 1e-6
    assert "hook" in songs.DESCR


def test_make_songs_is_repeatable():
    a = make_songs(n_songs=6, duration=1.0, random_state=3)
    b = make_songs(n_songs=6, duration=1.0, random_state=3)
    c = make_songs(n_songs=6, duration=1.0, random_state=4)
    np.testing.assert_array_equal(a.waveforms[2], b.waveforms[2])
    assert not np.array_equal(a.waveforms[2], c.waveforms[2])


def test_make_songs_rejects_bad_arguments():
    with pytest.raises(ValueError, match="popular_fraction"):
        make_songs(popular_fraction=1.5)
    with pytest.raises(ValueError, match="n_songs"):
        make_songs(n_songs=0)


@pytest.mark.parametrize("fmt", ["mp3", "m4a", "wav", "flac", "ogg"])
def test_write_and_load_manifest(tmp_path, fmt):
    songs = make_songs(n_songs=4, n_artists=2, duration=1.0, random_state=0)
    manifest = write_songs(songs, tmp_path, format=fmt)
    data = load_manifest(manifest)
    assert len(data.paths) == 4 and all(p.endswith(fmt) for p in data.paths)
    np.testing.assert_array_equal(data.y, songs.y)
    assert data.groups.tolist() == [f"artist_{g:02d}" for g in songs.groups]
    assert find_audio(tmp_path) == sorted(data.paths)


def test_load_manifest_reports_every_bad_file(tmp_path):
    songs = make_songs(n_songs=3, duration=1.0, random_state=0)
    manifest = write_songs(songs, tmp_path, format="wav")
    (tmp_path / "song_0001.wav").unlink()
    (tmp_path / "song_0002.wav").write_bytes(b"garbage" * 10)
    with pytest.raises(AudioError) as info:
        load_manifest(manifest)
    assert len(info.value.problems) == 2
    assert "song_0001.wav" in str(info.value) and "song_0002.wav" in str(info.value)


def test_load_manifest_columns(tmp_path):
    (tmp_path / "m.csv").write_text("file,hit\na.wav,yes\n")
    with pytest.raises(ValueError, match="no column 'path'"):
        load_manifest(tmp_path / "m.csv")
    data = load_manifest(tmp_path / "m.csv", path_column="file", label_column="hit",
                         check_files=False)
    assert data.y.tolist() == ["yes"] and data.groups is None
    (tmp_path / "e.csv").write_text("path,label\na.wav,\n")
    with pytest.raises(ValueError, match="line 2: empty 'label'"):
        load_manifest(tmp_path / "e.csv", check_files=False)
    with pytest.raises(FileNotFoundError):
        load_manifest(tmp_path / "none.csv")


def test_long_ogg_is_written_in_blocks(tmp_path):
    # libsndfile's Vorbis encoder crashed the process on one 4-minute write
    from sklearn_songpop._write import write_audio
    from sklearn_songpop.audio import audio_duration

    y = np.resize(make_songs(n_songs=1, duration=2.0, random_state=0).waveforms[0], 240 * 22050)
    write_audio(tmp_path / "long.ogg", y, 22050)
    assert audio_duration(tmp_path / "long.ogg") == pytest.approx(240.0, abs=0.05)


def test_popularity_ranks_the_popular_songs_first_and_years_are_artists_careers():
    songs = make_songs(n_songs=60, n_artists=8, duration=1.0, random_state=2)
    top = np.argsort(songs.popularity)[::-1][: songs.y.sum()]
    assert set(top) == set(np.flatnonzero(songs.y == 1))
    assert songs.popularity.dtype == np.float64 and len(np.unique(songs.popularity)) == 60
    assert songs.year.min() >= 2015 and songs.year.max() <= 2024
    for artist in np.unique(songs.groups):
        span = songs.year[songs.groups == artist]
        assert span.max() - span.min() <= 2  # an artist releases in neighbouring years


def test_drift_changes_only_the_hits_after_the_first_year():
    kw = {"n_songs": 40, "n_artists": 8, "duration": 1.0, "label_noise": 0.0,
          "random_state": 5}
    calm, moved = make_songs(**kw), make_songs(**kw, drift=1.0)
    np.testing.assert_array_equal(calm.y, moved.y)
    np.testing.assert_array_equal(calm.year, moved.year)
    changed = np.array([not np.array_equal(a, b)
                        for a, b in zip(calm.waveforms, moved.waveforms)])
    hits_later = (calm.y == 1) & (calm.year > 2015)
    assert not (changed & ~hits_later).any()
    # a hit whose hook is silent in every bar of its one second sounds the same
    assert changed.sum() >= hits_later.sum() // 2 > 0
    with pytest.raises(ValueError, match="drift"):
        make_songs(drift=2.0)
    with pytest.raises(ValueError, match="n_years"):
        make_songs(n_years=0)


def test_manifest_carries_popularity_and_year(tmp_path):
    songs = make_songs(n_songs=5, n_artists=2, duration=1.0, random_state=0)
    manifest = write_songs(songs, tmp_path, format="wav")
    data = load_manifest(manifest, label_column="popularity", time_column="year")
    np.testing.assert_allclose(data.y, songs.popularity)
    assert data.y.dtype == np.float64
    np.testing.assert_array_equal(data.times, songs.year)
    with pytest.raises(ValueError, match="no column 'released'"):
        load_manifest(manifest, time_column="released")


def test_metadata_carries_part_of_the_signal_and_leaves_the_songs_alone():
    plain = make_songs(n_songs=400, n_artists=40, duration=0.1, random_state=3)
    songs = make_songs(n_songs=400, n_artists=40, duration=0.1, metadata=True, random_state=3)
    np.testing.assert_array_equal(songs.y, plain.y)
    np.testing.assert_array_equal(songs.waveforms[7], plain.waveforms[7])
    meta, hit = songs.metadata, songs.y == 1
    assert all(len(v) == 400 for v in meta.values())
    # hits are more often on a major, and their artists have more followers
    major = meta["record_label"] == "major"
    assert major[hit].mean() > major[~hit].mean() + 0.1
    assert np.median(meta["followers"][hit]) > np.median(meta["followers"][~hit])
    # the genre and the track number are noise
    assert abs((meta["genre"][hit] == "pop").mean() - (meta["genre"] == "pop").mean()) < 0.1
    assert set(np.unique(meta["track_number"])) <= set(range(1, 13))


def test_manifest_as_frame_holds_every_column(tmp_path):
    pd = pytest.importorskip("pandas")
    songs = make_songs(n_songs=5, n_artists=2, duration=0.5, metadata=True, random_state=0)
    manifest = write_songs(songs, tmp_path, format="wav")
    data = load_manifest(manifest, as_frame=True)
    frame = data.frame
    assert isinstance(frame, pd.DataFrame) and len(frame) == 5
    assert list(frame.columns) == ["path", "label", "artist", "popularity", "year",
                                   "followers", "record_label", "genre", "track_number"]
    assert frame["path"].tolist() == data.paths
    assert frame["followers"].dtype.kind == "f" and frame["track_number"].dtype.kind == "i"
    np.testing.assert_array_equal(frame["label"], data.y)
    assert "frame" not in load_manifest(manifest)
