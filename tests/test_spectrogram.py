import librosa
import numpy as np
import pytest

from sklearn_songpop.spectrogram import SpectrogramTransformer

from .conftest import SR


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    music = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size)
    return np.stack([music, 0.5 * rng.standard_normal(t.size), np.sin(2 * np.pi * 60 * t)]
                    ).astype(np.float32)


@pytest.mark.parametrize("kind", ["mel", "stft"])
@pytest.mark.parametrize("params", [{}, {"n_fft": 1024, "hop_length": 256, "n_mels": 64,
                                        "fmin": 30.0, "fmax": 8000.0}])
def test_equals_librosa(clips, kind, params):
    tr = SpectrogramTransformer(kind=kind, **params).fit(clips)
    out = tr.transform(clips)[:, 0]
    n_fft, hop = params.get("n_fft", 2048), params.get("hop_length", 512)
    for clip, got in zip(clips, out):
        if kind == "mel":
            power = librosa.feature.melspectrogram(
                y=clip, sr=SR, n_fft=n_fft, hop_length=hop, n_mels=params.get("n_mels", 128),
                fmin=params.get("fmin", 0.0), fmax=params.get("fmax"))
        else:
            power = np.abs(librosa.stft(clip, n_fft=n_fft, hop_length=hop)) ** 2
        ref = librosa.power_to_db(power, top_db=80.0)
        above = ref > ref.max() - 80.0
        assert got.shape == ref.shape
        # float32 FFTs (torch's and numpy's) round differently: near the 80 dB floor the
        # bins are 1e-4 of the peak's amplitude, and one CI run saw 0.02 dB there
        loud = ref > ref.max() - 40.0
        np.testing.assert_allclose(got[loud], ref[loud], atol=1e-3)
        np.testing.assert_allclose(got[above], ref[above], atol=0.05)


def test_shapes_fixed_by_parameters():
    X = np.zeros((2, 3, 3 * SR), np.float32)
    assert SpectrogramTransformer().fit_transform(X).shape == (2, 3, 128, 130)
    assert SpectrogramTransformer(kind="stft").fit_transform(X).shape == (2, 3, 1025, 130)
    assert SpectrogramTransformer(kind="paper", sr=44100).fit_transform(
        np.zeros((1, 3, 132300), np.float32)).shape == (1, 3, 160, 160)
    assert SpectrogramTransformer(output_shape=(32, 40)).fit_transform(X).shape == (2, 3, 32, 40)
    assert SpectrogramTransformer().fit_transform(X[:, 0]).shape == (2, 1, 128, 130)


def test_paper_kind_follows_the_seed():
    tr = SpectrogramTransformer(kind="paper", sr=44100, output_shape=(151, 294))
    rng = np.random.default_rng(1)
    clip = rng.standard_normal((1, 132300)).astype(np.float32)
    out = tr.fit_transform(clip)[0, 0]
    # 300-sample window, hop 450 (the R code's overlap=-150), no centring: 294 frames
    assert (tr.n_fft_, tr.hop_length_) == (300, 450)
    window = np.hanning(301)[:300]
    frame = clip[0, 450 * 7: 450 * 7 + 300] * window
    power = np.abs(np.fft.rfft(frame)) ** 2
    assert out.min() == pytest.approx(0.0) and out.max() == pytest.approx(1.0)
    # the column is a monotone transform of the frame's power
    assert np.corrcoef(np.argsort(np.argsort(out[:, 7])), np.argsort(np.argsort(power)))[0, 1] \
        > 0.999


@pytest.mark.parametrize("kind", ["mel", "stft", "paper"])
@pytest.mark.parametrize("name", ["silence", "click", "full-scale noise", "one sample", "short"])
def test_always_finite(kind, name):
    rng = np.random.default_rng(0)
    n = {"one sample": 1, "short": 100}.get(name, 3 * SR)
    x = np.zeros((2, n), np.float32)
    if name == "click":
        x[:, n // 2] = 1.0
    elif name == "full-scale noise":
        x = np.sign(rng.standard_normal((2, n))).astype(np.float32)
    out = SpectrogramTransformer(kind=kind).fit_transform(x)
    assert np.isfinite(out).all()
    if name == "silence" and kind != "paper":
        assert np.all(out == -100.0)


def test_float16_output_and_parallel_equal_serial(clips):
    X = np.repeat(clips[None], 4, axis=0)
    serial = SpectrogramTransformer().fit_transform(X)
    parallel = SpectrogramTransformer(n_jobs=2, batch_size=3).fit_transform(X)
    np.testing.assert_allclose(parallel, serial, atol=1e-4)
    half = SpectrogramTransformer(dtype="float16").fit_transform(X)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, serial, atol=0.1)


def test_input_errors():
    with pytest.raises(ValueError, match="NaN|infinity"):
        SpectrogramTransformer().fit(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="got shape"):
        SpectrogramTransformer().fit(np.zeros((1, 1, 1, 10)))
    with pytest.raises(ValueError, match="fmin"):
        SpectrogramTransformer(fmin=9000.0, fmax=8000.0).fit(np.zeros((1, 100)))
    with pytest.raises(ValueError, match="output_shape"):
        SpectrogramTransformer(output_shape=(0, 5)).fit(np.zeros((1, 100)))


def test_frequencies(clips):
    tr = SpectrogramTransformer(n_mels=40).fit(clips)
    f = tr.frequencies()
    assert f.shape == (40,) and np.all(np.diff(f) > 0) and f[-1] == pytest.approx(SR / 2)


@pytest.mark.parametrize("n_mels", [128, 40, 7])
def test_banded_mel_product_equals_the_dense_one(n_mels):
    import torch

    tr = SpectrogramTransformer(n_mels=n_mels).fit(np.zeros((1, SR), np.float32))
    basis = tr.mel_basis_
    # the blocks cover every non-zero weight, in band order
    covered = np.zeros_like(basis, dtype=bool)
    row = 0
    for f0, f1, weights in tr.mel_blocks_:
        np.testing.assert_array_equal(weights, basis[row:row + len(weights), f0:f1])
        covered[row:row + len(weights), f0:f1] = True
        row += len(weights)
    assert row == n_mels and not basis[~covered].any()
    power = torch.rand(3, basis.shape[1], 20)
    expected = torch.matmul(torch.from_numpy(basis), power)
    torch.testing.assert_close(tr._mel(power), expected, rtol=1e-5, atol=1e-6)
    assert sum(w.size for _, _, w in tr.mel_blocks_) < basis.size / (4 if n_mels == 128 else 1)


def test_a_callers_autocast_does_not_reach_the_spectrograms(clips):
    import torch

    tr = SpectrogramTransformer().fit(clips)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = tr.transform(clips)
    assert inside.dtype == np.float32
    np.testing.assert_array_equal(inside, tr.transform(clips))


def test_device_parameter(clips):
    import torch

    cpu = SpectrogramTransformer().fit_transform(clips)
    auto = SpectrogramTransformer(device="auto").fit_transform(clips)
    np.testing.assert_allclose(auto, cpu, atol=1e-3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            SpectrogramTransformer(device="cuda").fit(clips)
    with pytest.raises(ValueError, match="not a torch device"):
        SpectrogramTransformer(device="abacus").fit(clips)


@pytest.mark.skipif("not __import__('torch').cuda.is_available()",
                    reason="needs a CUDA GPU; this machine has none")
@pytest.mark.parametrize("kind", ["mel", "stft", "paper"])
def test_gpu_equals_cpu(clips, kind):
    cpu = SpectrogramTransformer(kind=kind).fit_transform(clips)
    gpu = SpectrogramTransformer(kind=kind, device="cuda").fit_transform(clips)
    np.testing.assert_allclose(gpu, cpu, atol=1e-3)
