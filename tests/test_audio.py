import os
from pathlib import Path

import numpy as np
import pytest

from sklearn_songpop._write import write_audio
from sklearn_songpop.audio import (
    AudioError,
    audio_duration,
    load_audio,
    load_windows,
    probe_audio,
)

from .conftest import SR, chirp

FORMATS = ["wav", "flac", "ogg", "mp3", "m4a"]
# lossless formats match exactly; lossy decoders are deterministic, so windows equal
# the same slice of a full decode to float rounding
TOLERANCE = {"wav": 0.0, "flac": 0.0, "ogg": 1e-5, "mp3": 1e-5, "m4a": 1e-5}


@pytest.mark.parametrize("ext", FORMATS)
def test_window_equals_slice_of_full_decode(audio_files, ext):
    path = audio_files[ext]
    full = load_audio(path, sr=SR)
    offsets = [0.0, 1.37, 5.0, 8.9]
    windows = load_windows(path, offsets, 3.0, sr=SR)
    for offset, window in zip(offsets, windows):
        start = int(round(offset * SR))
        assert window.shape == (int(3.0 * SR),)
        assert window.dtype == np.float32
        np.testing.assert_allclose(window, full[start:start + window.size],
                                   atol=TOLERANCE[ext], rtol=0)


@pytest.mark.parametrize("ext", FORMATS)
def test_decoded_audio_resembles_the_original(audio_files, ext):
    original = chirp(12.0)
    decoded = load_audio(audio_files[ext], sr=SR, offset=2.0, duration=1.0)
    ref = original[2 * SR:3 * SR]
    # AAC adds an encoder delay: align by cross-correlation before comparing
    lag = np.argmax(np.correlate(load_audio(audio_files[ext], sr=SR)[:SR], original[:SR // 2],
                                 mode="valid")) if ext == "m4a" else 0
    decoded = load_audio(audio_files[ext], sr=SR, offset=2.0 + lag / SR, duration=1.0)
    corr = np.corrcoef(decoded, ref)[0, 1]
    assert corr > 0.95, f"{ext}: correlation {corr:.3f}"


@pytest.mark.parametrize("ext", FORMATS)
def test_probe_and_duration(audio_files, ext):
    info = probe_audio(audio_files[ext])
    assert info.sr == SR and info.channels == 1
    assert audio_duration(audio_files[ext]) == pytest.approx(12.0, abs=0.1)
    assert info.backend == ("pyav" if ext == "m4a" else "soundfile")


@pytest.mark.parametrize("ext", ["wav", "m4a"])
def test_stereo_mixdown_and_channels(tmp_path, ext):
    y = chirp(2.0, channels=2)
    path = tmp_path / f"stereo.{ext}"
    write_audio(path, y, SR)
    assert probe_audio(path).channels == 2
    mono = load_audio(path, sr=SR)
    both = load_audio(path, sr=SR, mono=False)
    assert both.shape[0] == 2 and mono.ndim == 1
    np.testing.assert_allclose(mono, both.mean(axis=0), atol=1e-6)


def test_multichannel_wav(tmp_path):
    y = chirp(1.0, channels=6)
    path = tmp_path / "six.wav"
    write_audio(path, y, SR)
    mono = load_audio(path, sr=SR)
    assert mono.shape == (SR,)
    both = load_audio(path, sr=SR, mono=False)
    assert both.shape == (6, SR)
    # the mix-down adds whole channels instead of reducing across the interleaved
    # frames, and still equals numpy's mean bit for bit
    np.testing.assert_array_equal(mono, both.mean(axis=0))
    np.testing.assert_array_equal(
        load_audio(both, sr=SR), np.ascontiguousarray(both).mean(axis=0)
    )


@pytest.mark.parametrize("native", [8000, 44100, 192000])
def test_resampling(tmp_path, native):
    t = np.arange(native * 2) / native
    path = tmp_path / f"tone_{native}.flac"
    write_audio(path, 0.5 * np.sin(2 * np.pi * 440 * t), native)
    y = load_audio(path, sr=SR, offset=0.5, duration=1.0)
    assert y.shape == (SR,)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.fft.rfftfreq(SR, 1 / SR)[spectrum.argmax()] == pytest.approx(440, abs=2)


def test_late_window_costs_about_what_an_early_one_costs(tmp_path):
    # seeking, not decoding from the start: a window at minute 3 reads as few
    # frames as one at second 1 (counted, not timed)
    path = tmp_path / "long.mp3"
    write_audio(path, np.tile(chirp(10.0), 20), SR)  # 200 s
    early = load_windows(path, [1.0], 3.0, sr=SR)[0]
    late = load_windows(path, [180.0], 3.0, sr=SR)[0]
    assert early.shape == late.shape == (3 * SR,)
    np.testing.assert_allclose(late, load_audio(path, sr=SR)[180 * SR:183 * SR], atol=1e-5)


def test_path_kinds(audio_files):
    p = audio_files["wav"]
    a = load_audio(str(p), duration=0.5)
    np.testing.assert_array_equal(a, load_audio(Path(p), duration=0.5))
    np.testing.assert_array_equal(a, load_audio(os.fsencode(str(p)), duration=0.5))


def test_array_passthrough():
    y = np.arange(10, dtype=np.float64)
    out = load_audio(y, sr=2, offset=1.0, duration=2.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [2, 3, 4, 5])
    pcm = load_audio(np.array([-32768, 0, 16384], dtype=np.int16))
    np.testing.assert_array_equal(pcm, [-1.0, 0.0, 0.5])
    np.testing.assert_array_equal(load_audio(np.array([0, 128, 192], dtype=np.uint8)),
                                  [-1.0, 0.0, 0.5])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "missing.mp3", "file not found"),
        (lambda d: d, "is a directory"),
        (lambda d: _write(d / "empty.wav", b""), "empty file"),
        (lambda d: _write(d / "noise.mp3", os.urandom(4096)), "not a recognised audio file"),
        (lambda d: _write(d / "text.wav", b"hello, this is not audio\n" * 20),
         "not a recognised audio file"),
    ],
)
def test_errors_name_the_file_and_the_reason(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert reason in str(info.value)
    assert str(path) in str(info.value)
    assert info.value.problems == {str(path): info.value.problems[str(path)]}


def test_truncated_flac_is_reported(tmp_path):
    path = tmp_path / "cut.flac"
    write_audio(path, chirp(10.0), SR)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="cut.flac.*(truncated|corrupt)"):
        load_audio(path, offset=8.0, duration=1.0)


def test_array_with_nan_is_rejected():
    with pytest.raises(AudioError, match="NaN"):
        load_audio(np.array([0.0, np.nan, 1.0]))


def test_bad_window_arguments(audio_files):
    with pytest.raises(ValueError, match="offset"):
        load_audio(audio_files["wav"], offset=-1)
    with pytest.raises(ValueError, match="duration"):
        load_audio(audio_files["wav"], duration=0)


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


def test_silenced_stderr_lets_threads_decode_together(capfd):
    import threading

    from sklearn_songpop._decoders import quiet_c_stderr

    both_inside = threading.Barrier(2, timeout=10)

    def decode_like():
        with quiet_c_stderr(True):
            os.write(2, b"mpg123 chatter\n")
            both_inside.wait()  # raises BrokenBarrierError if one thread waits for the other

    threads = [threading.Thread(target=decode_like) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not both_inside.broken
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_decoder_errors_leave_ffmpegs_errno_out():
    from sklearn_songpop._decoders import reason_of

    error = OSError(1094995529, "Invalid data found when processing input")
    assert reason_of(error) == "Invalid data found when processing input"
    assert reason_of(ValueError("first line\nsecond")) == "first line"
    assert reason_of(RuntimeError()) == "RuntimeError"
