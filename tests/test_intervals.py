import numpy as np
import pytest
from joblib import parallel_config

from sklearn_songpop._write import write_audio
from sklearn_songpop.audio import AudioError, audio_duration, load_audio
from sklearn_songpop.intervals import IntervalSampler, window_starts

from .conftest import SR, chirp


def test_output_shape_and_type_from_arrays():
    X = np.stack([chirp(10.0, seed=i) for i in range(3)])
    out = IntervalSampler(n_intervals=4, duration=1.5, random_state=0).fit_transform(X)
    assert out.shape == (3, 4, int(round(1.5 * SR)))
    assert out.dtype == np.float32


def test_windows_are_slices_of_the_song():
    song = chirp(9.0)
    sampler = IntervalSampler(strategy="even").fit([song])
    out = sampler.transform([song])[0]
    starts = window_starts(9.0, 3, 3.0, "even")
    for row, start in zip(out, starts):
        a = int(round(start * SR))
        np.testing.assert_array_equal(row, song[a:a + 3 * SR])


@pytest.mark.parametrize("strategy", ["thirds", "random", "even"])
def test_interval_starts_are_where_the_windows_come_from(strategy):
    songs = [chirp(12.0), chirp(9.5)[::-1].copy()]
    sampler = IntervalSampler(strategy=strategy, random_state=3).fit(songs)
    starts = sampler.interval_starts(songs)
    assert starts.shape == (2, 3)
    for song, windows, song_starts in zip(songs, sampler.transform(songs), starts):
        for row, start in zip(windows, song_starts):
            a = int(round(start * SR))
            np.testing.assert_array_equal(row, song[a:a + 3 * SR])


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3", "m4a"])
def test_file_windows_match_full_decode(audio_files, ext):
    full = load_audio(audio_files[ext], sr=SR)
    sampler = IntervalSampler(strategy="even").fit([audio_files[ext]])
    out = sampler.transform([audio_files[ext]])[0]
    length = audio_duration(audio_files[ext])
    for row, start in zip(out, window_starts(length, 3, 3.0, "even")):
        a = int(round(start * SR))
        np.testing.assert_allclose(row, full[a:a + 3 * SR], atol=1e-5)


def test_thirds_start_inside_each_third():
    rng = np.random.default_rng(0)
    for _ in range(200):
        length = rng.uniform(10, 300)
        s = window_starts(length, 3, 3.0, "thirds", rng)
        for i, start in enumerate(s):
            assert i * length / 3 <= start + 1e-9
            assert start < (i + 1) * length / 3
            assert start + 3.0 <= length + 1e-9


def test_random_strategy_stays_inside_and_is_sorted():
    rng = np.random.default_rng(1)
    s = window_starts(20.0, 5, 3.0, "random", rng)
    assert np.all(np.diff(s) >= 0) and s.min() >= 0 and s.max() <= 17.0


def test_same_seed_same_windows_and_batch_independence():
    songs = [chirp(8.0 + i, seed=i) for i in range(30)]
    a = IntervalSampler(random_state=3).fit(songs).transform(songs)
    b = IntervalSampler(random_state=3).fit(songs).transform(songs)
    np.testing.assert_array_equal(a, b)
    alone = IntervalSampler(random_state=3).fit(songs).transform([songs[17]])
    np.testing.assert_array_equal(alone[0], a[17])
    reversed_ = IntervalSampler(random_state=3).fit(songs).transform(songs[::-1])
    np.testing.assert_array_equal(reversed_[::-1], a)
    other = IntervalSampler(random_state=4).fit(songs).transform(songs)
    assert not np.array_equal(other, a)


def test_files_batch_independence_and_parallel(audio_files, tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"song{i}.mp3"
        write_audio(p, chirp(7.0 + i, seed=i), SR)
        paths.append(p)
    serial = IntervalSampler(random_state=0).fit(paths).transform(paths)
    parallel = IntervalSampler(random_state=0, n_jobs=2).fit(paths).transform(paths)
    np.testing.assert_array_equal(serial, parallel)
    with parallel_config(backend="threading", n_jobs=2):
        threaded = IntervalSampler(random_state=0).fit(paths).transform(paths)
    np.testing.assert_array_equal(serial, threaded)
    np.testing.assert_array_equal(
        IntervalSampler(random_state=0).fit(paths).transform(paths[2:3])[0], serial[2])


def test_short_song_policies():
    song = chirp(1.0)  # shorter than one 3-second window
    pad = IntervalSampler(short="pad").fit_transform([song])[0]
    assert np.array_equal(pad[0, :SR], song) and not pad[0, SR:].any()
    loop = IntervalSampler(short="loop").fit_transform([song])[0]
    np.testing.assert_array_equal(loop[0, SR:2 * SR], song)
    with pytest.raises(AudioError, match="too short"):
        IntervalSampler(short="error").fit_transform([song])


def test_song_long_enough_for_one_window_gets_overlapping_windows():
    song = chirp(4.0)
    out = IntervalSampler(short="error", random_state=0).fit_transform([song])[0]
    assert out.shape == (3, 3 * SR)
    assert all(np.abs(row).max() > 0 for row in out)


def test_every_bad_file_is_listed_before_decoding(audio_files, tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.wav"
    junk = tmp_path / "junk.flac"
    junk.write_bytes(b"not audio at all" * 50)
    songs = [audio_files["wav"], empty, missing, audio_files["mp3"], junk]
    with pytest.raises(AudioError) as info:
        IntervalSampler().fit(songs).transform(songs)
    message = str(info.value)
    assert "3 audio file(s)" in message
    for bad in (empty, missing, junk):
        assert str(bad) in message and str(bad) in info.value.problems
    assert str(audio_files["wav"]) not in info.value.problems


def test_mixed_paths_and_arrays_rejected(audio_files):
    with pytest.raises(TypeError, match="mixes paths and waveform"):
        IntervalSampler().fit_transform([audio_files["wav"], chirp(5.0)])


def test_single_path_rejected(audio_files):
    with pytest.raises(TypeError, match="not a single path"):
        IntervalSampler().fit_transform(str(audio_files["wav"]))


def test_bad_waveforms_listed():
    with pytest.raises(AudioError) as info:
        IntervalSampler().fit_transform([chirp(5.0), np.array([np.nan, 1.0]), np.zeros(0)])
    assert set(info.value.problems) == {"X[1]", "X[2]"}


def test_invalid_parameters():
    with pytest.raises(ValueError, match="strategy"):
        IntervalSampler(strategy="middle").fit([chirp(5.0)])
    with pytest.raises(ValueError, match="n_intervals"):
        IntervalSampler(n_intervals=0).fit([chirp(5.0)])
