"""Malformed input, one case each, with the exact behaviour asserted.

Each case ends in a clear error naming the file or the argument, or in a documented
result: finite numbers of the right shape. No NaN reaches a prediction.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.exceptions import NotFittedError

from sklearn_songpop import AudioError, IntervalSampler, SpectrogramCNNClassifier
from sklearn_songpop._write import write_audio
from sklearn_songpop.pipeline import make_songpop_pipeline

from .conftest import SR, chirp, quick

QUICK = quick(intervals__duration=2.0)  # shorter windows, a quicker fit


@pytest.fixture(scope="module")
def fitted(small_songs):
    X = np.stack(small_songs.waveforms)
    return make_songpop_pipeline(random_state=0, **QUICK).fit(X, small_songs.y)


def sample(path):
    return IntervalSampler(random_state=0).fit_transform([path])


def assert_audio_error(path, reason):
    with pytest.raises(AudioError) as info:
        sample(path)
    assert str(path) in str(info.value), str(info.value)
    assert reason in str(info.value), str(info.value)


# ---------------------------------------------------------------- files
def test_missing_path(tmp_path):
    assert_audio_error(tmp_path / "gone.mp3", "file not found")


def test_directory(tmp_path):
    assert_audio_error(tmp_path, "is a directory")


def test_empty_file(tmp_path):
    (tmp_path / "e.mp3").write_bytes(b"")
    assert_audio_error(tmp_path / "e.mp3", "empty file (0 bytes)")


def test_random_bytes_named_mp3(tmp_path):
    (tmp_path / "r.mp3").write_bytes(np.random.default_rng(0).bytes(8192))
    assert_audio_error(tmp_path / "r.mp3", "not a recognised audio file")


def test_text_file_named_wav(tmp_path):
    (tmp_path / "t.wav").write_text("this is a shopping list, not a song\n" * 50)
    assert_audio_error(tmp_path / "t.wav", "not a recognised audio file")


def test_truncated_mp3(tmp_path):
    path = tmp_path / "cut.mp3"
    write_audio(path, chirp(10.0), SR)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    # the header still promises 10 s: the window past the cut is reported
    assert_audio_error(path, "truncated")


def test_truncated_flac(tmp_path):
    path = tmp_path / "cut.flac"
    write_audio(path, chirp(10.0), SR)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert_audio_error(path, "truncated")


def test_zero_length_audio(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, np.float32), SR)
    assert_audio_error(path, "contains no audio frames")


def test_one_sample_file_is_padded(tmp_path):
    path = tmp_path / "one.wav"
    sf.write(path, np.array([0.5], np.float32), SR)
    X = sample(path)
    assert X.shape == (1, 3, 3 * SR) and np.isfinite(X).all()
    assert X[0, 0, 0] == pytest.approx(0.5, abs=1e-4) and not X[0, 0, 1:].any()


def test_six_channels(tmp_path):
    path = tmp_path / "six.wav"
    write_audio(path, chirp(5.0, channels=6), SR)
    assert sample(path).shape == (1, 3, 3 * SR)


@pytest.mark.parametrize("rate", [8000, 192000])
def test_unusual_rates(tmp_path, rate):
    t = np.arange(5 * rate) / rate
    path = tmp_path / f"r{rate}.flac"
    write_audio(path, 0.3 * np.sin(2 * np.pi * 440 * t), rate)
    X = sample(path)
    assert X.shape == (1, 3, 3 * SR) and np.abs(X).max() > 0.2


def test_song_shorter_than_one_interval(tmp_path):
    path = tmp_path / "short.wav"
    write_audio(path, chirp(1.0), SR)
    X = sample(path)
    assert X.shape == (1, 3, 3 * SR) and not X[0, :, SR + 10:].any()
    with pytest.raises(AudioError, match="short.wav: too short"):
        IntervalSampler(short="error").fit_transform([path])


def test_non_ascii_file_name(tmp_path):
    path = tmp_path / "Beyoncé – Ça plaît 歌.mp3"
    write_audio(path, chirp(5.0), SR)
    assert sample(path).shape == (1, 3, 3 * SR)


def test_path_as_pathlib_and_bytes(tmp_path):
    path = tmp_path / "p.wav"
    write_audio(path, chirp(5.0), SR)
    np.testing.assert_array_equal(sample(Path(path)), sample(os.fsencode(str(path))))


def test_mix_of_paths_and_arrays(tmp_path):
    path = tmp_path / "p.wav"
    write_audio(path, chirp(5.0), SR)
    with pytest.raises(TypeError, match="mixes paths and waveform arrays"):
        IntervalSampler().fit_transform([path, chirp(5.0)])


# ---------------------------------------------------------------- waveforms
def test_total_silence_and_a_click_predict_finite(fitted):
    silence = np.zeros(5 * SR, np.float32)
    click = silence.copy()
    click[SR] = 1.0
    proba = fitted.predict_proba([silence, click])
    assert proba.shape == (2, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_in_a_waveform(bad):
    wave = chirp(5.0)
    wave[100] = bad
    with pytest.raises(AudioError, match=r"X\[1\]: waveform contains NaN or infinity"):
        IntervalSampler().fit_transform([chirp(5.0), wave])
    with pytest.raises(ValueError, match="NaN|infinity"):
        IntervalSampler().fit_transform(np.stack([chirp(5.0), wave]))


def test_integer_pcm_is_scaled():
    wave = (chirp(5.0) * 32767).astype(np.int16)
    X = IntervalSampler(strategy="even").fit_transform([wave])
    ref = IntervalSampler(strategy="even").fit_transform([chirp(5.0)])
    np.testing.assert_allclose(X, ref, atol=1e-4)


def test_float64_arrays_give_float32():
    X = IntervalSampler(strategy="even").fit_transform(np.stack([chirp(5.0)]).astype(float))
    assert X.dtype == np.float32


def test_a_stereo_array_in_a_list_is_rejected():
    with pytest.raises(AudioError, match=r"X\[0\]: a waveform must be a 1-D numeric array"):
        IntervalSampler().fit_transform([chirp(5.0, channels=2)])


# ---------------------------------------------------------------- labels and fitting
def test_labels_of_the_wrong_length(small_songs):
    X = np.stack(small_songs.waveforms)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_songpop_pipeline(**QUICK).fit(X, small_songs.y[:-2])


def test_a_single_class(small_songs):
    X = np.stack(small_songs.waveforms)
    with pytest.raises(ValueError, match="one class only"):
        make_songpop_pipeline(**QUICK).fit(X, np.ones(len(X), int))


def test_unseen_labels():
    clf = SpectrogramCNNClassifier(max_epochs=1, random_state=0)
    X = np.random.default_rng(0).standard_normal((8, 2, 8, 8)).astype(np.float32)
    clf.fit(X, [0, 1] * 4)
    with pytest.raises(ValueError, match=r"labels not in classes_ \[0, 1\]: \[2\]"):
        clf.partial_fit(X, [0, 1, 2, 0, 1, 2, 0, 1])


def test_predict_before_fit(small_songs):
    with pytest.raises(NotFittedError):
        make_songpop_pipeline().predict(np.stack(small_songs.waveforms[:2]))


def test_wrong_interval_length_for_a_fitted_model(fitted, small_songs):
    X = np.stack(small_songs.waveforms[:2])
    intervals = fitted.named_steps["intervals"].transform(X)
    n_bins, n_frames = fitted.named_steps["classifier"].input_shape_[1:]
    assert n_bins == 32 and n_frames > 44
    with pytest.raises(ValueError, match=rf"fitted on \({n_bins}, {n_frames}\)"):
        fitted[1:].predict(intervals[:, :, : SR])  # one second instead of the preset's window


def test_other_input_kinds_are_named():
    with pytest.raises(TypeError, match="not a single path"):
        IntervalSampler().fit_transform("song.mp3")
    with pytest.raises(TypeError, match="sequence of paths"):
        IntervalSampler().fit_transform(42)
    with pytest.raises(ValueError, match="0 songs|0 sample"):
        IntervalSampler().fit_transform([])
