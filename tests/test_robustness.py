"""Property tests, determinism across processes, and persistence that runs no code."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_songpop import (
    IntervalSampler,
    SpectrogramTransformer,
    load_portable,
    make_songpop_pipeline,
    save_portable,
)

from .conftest import quick

QUICK = quick()


@st.composite
def waveforms(draw):
    n = draw(st.integers(1, 30000))
    kind = draw(st.sampled_from(["noise", "silence", "clipped", "dc", "tone"]))
    amp = draw(st.floats(1e-6, 10.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "silence":
        w = np.zeros(n)
    elif kind == "noise":
        w = amp * rng.standard_normal(n)
    elif kind == "clipped":
        w = np.clip(amp * 10 * rng.standard_normal(n), -1, 1)
    elif kind == "dc":
        w = np.full(n, draw(st.floats(-1, 1))) + 0.01 * rng.standard_normal(n)
    else:
        w = amp * np.sin(np.arange(n) * draw(st.floats(0.001, 3.0)))
    return w.astype(np.float32)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(songs=st.lists(waveforms(), min_size=1, max_size=3),
       n_intervals=st.integers(1, 4), duration=st.floats(0.01, 0.5),
       strategy=st.sampled_from(["thirds", "even", "random"]),
       short=st.sampled_from(["pad", "loop"]), sr=st.sampled_from([8000, 22050]))
def test_sampler_shape_and_finiteness(songs, n_intervals, duration, strategy, short, sr):
    X = IntervalSampler(n_intervals=n_intervals, duration=duration, sr=sr, strategy=strategy,
                        short=short, random_state=0).fit_transform(songs)
    assert X.shape == (len(songs), n_intervals, int(round(duration * sr)))
    assert X.dtype == np.float32 and np.isfinite(X).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wave=waveforms(), kind=st.sampled_from(["mel", "stft", "paper"]),
       n_fft=st.sampled_from([None, 256, 512]), hop=st.sampled_from([None, 64, 300]),
       n_mels=st.integers(1, 64), shape=st.sampled_from([None, (16, 9)]))
def test_spectrogram_shape_and_finiteness(wave, kind, n_fft, hop, n_mels, shape):
    tr = SpectrogramTransformer(kind=kind, n_fft=n_fft, hop_length=hop, n_mels=n_mels,
                                output_shape=shape).fit(wave[None])
    S = tr.transform(np.stack([wave, wave])[:, None])
    assert np.isfinite(S).all() and S.shape[:2] == (2, 1)
    if shape is not None or kind == "paper":
        assert S.shape[2:] == (shape or (160, 160))
    elif kind == "mel":
        assert S.shape[2:] == (n_mels, 1 + len(wave) // tr.hop_length_)
    else:
        assert S.shape[2:] == (tr.n_fft_ // 2 + 1, 1 + len(wave) // tr.hop_length_)


_CHILD = """
import json, numpy as np
from sklearn_songpop import make_songs, make_songpop_pipeline
songs = make_songs(n_songs=24, n_artists=4, duration=5.0, random_state=0)
pipe = make_songpop_pipeline(random_state=7, **{quick})
pipe.fit(np.stack(songs.waveforms), songs.y)
print(json.dumps(pipe.predict_proba(np.stack(songs.waveforms)).tolist()))
"""


@pytest.mark.slow
def test_same_seed_same_predictions_in_and_across_processes():
    from sklearn_songpop import make_songs

    code = _CHILD.format(quick=repr(QUICK))
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                      text=True, check=True).stdout) for _ in range(2)]
    assert runs[0] == runs[1]
    songs = make_songs(n_songs=24, n_artists=4, duration=5.0, random_state=0)
    X = np.stack(songs.waveforms)
    here = [make_songpop_pipeline(random_state=7, **QUICK).fit(X, songs.y).predict_proba(X)
            for _ in range(2)]
    np.testing.assert_array_equal(here[0], here[1])
    # this long-lived test process may run torch with other thread settings than a fresh
    # one (earlier tests use joblib and Dask), which changes the order of float sums
    np.testing.assert_allclose(here[0], np.asarray(runs[0]), atol=2e-3)


@pytest.mark.parametrize("preset", ["default", "paper"])
def test_portable_round_trip(small_songs, tmp_path, preset):
    X = np.stack(small_songs.waveforms[:12])
    y = np.where(small_songs.y[:12] == 1, "hit", "miss")
    y[:2] = ["hit", "miss"]
    params = dict(QUICK) if preset == "default" else {"classifier__max_epochs": 1}
    pipe = make_songpop_pipeline(preset, random_state=0, **params).fit(X, y)
    save_portable(pipe, tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "novelty.npz", "settings.json", "weights.pt"]
    loaded = load_portable(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(X), pipe.predict_proba(X), rtol=1e-5,
                               atol=1e-6)
    assert loaded.predict(X).tolist() == pipe.predict(X).tolist()
    S = pipe[:-1].transform(X)  # the paper net's novelty too (its dense layer's 500 values)
    np.testing.assert_allclose(loaded[-1].novelty(S), pipe[-1].novelty(S))


def test_portable_rejects_foreign_files(tmp_path):
    (tmp_path / "settings.json").write_text("{}")
    with pytest.raises(ValueError, match="not a sklearn_songpop portable model"):
        load_portable(tmp_path)
    with pytest.raises(FileNotFoundError, match="no settings.json"):
        load_portable(tmp_path / "nowhere")
