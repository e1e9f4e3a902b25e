"""Spectrogram throughput against a loop of librosa.feature.melspectrogram (target: 4x).

Also measures the batch size (clips per torch call) of the transformer, the dense
filter-bank product that the banded one replaced, and one clip per call.
"""

from __future__ import annotations

import numpy as np

from benchmarks._common import median_time, table


def run(quick: bool = False) -> str:
    import librosa

    from sklearn_songpop.spectrogram import SpectrogramTransformer

    sr, n = 22050, 64 if quick else 256
    rng = np.random.default_rng(0)
    clips = (0.3 * rng.standard_normal((n, 3 * sr))).astype(np.float32)

    def reference():
        for c in clips:
            librosa.power_to_db(librosa.feature.melspectrogram(
                y=c, sr=sr, n_fft=2048, hop_length=512, n_mels=128), top_db=80.0)

    t_ref = median_time(reference, repeat=3)
    rows = [["librosa loop", "-", f"{n / t_ref:.0f}", "1.0x"]]
    for batch in (1, 4, 16, 64):
        tr = SpectrogramTransformer(batch_size=batch).fit(clips[:1])
        t = median_time(lambda tr=tr: tr.transform(clips), repeat=3)
        rows.append([f"songpop mel, batch_size={batch}", "1", f"{n / t:.0f}",
                     f"{t_ref / t:.1f}x"])
    dense = SpectrogramTransformer().fit(clips[:1])
    dense.mel_blocks_ = None  # the dense 128 x 1025 product, as before the banded one
    t = median_time(lambda: dense.transform(clips), repeat=3)
    rows.append(["songpop mel, dense filter bank product, batch_size=4", "1", f"{n / t:.0f}",
                 f"{t_ref / t:.1f}x"])
    # one clip per call, as a caller scoring songs one by one
    single = clips[:64 if quick else 200]
    t_ref1 = median_time(lambda: [librosa.power_to_db(librosa.feature.melspectrogram(
        y=c, sr=sr, n_fft=2048, hop_length=512, n_mels=128), top_db=80.0) for c in single],
        repeat=3)
    tr = SpectrogramTransformer().fit(clips[:1])
    t = median_time(lambda: [tr.transform(c[None]) for c in single], repeat=3)
    rows.append([f"songpop mel, one clip per call ({len(single)} calls)", "1",
                 f"{len(single) / t:.0f}", f"{t_ref1 / t:.1f}x"])
    tr = SpectrogramTransformer(n_jobs=2).fit(clips[:1])
    t = median_time(lambda: tr.transform(clips), repeat=3)
    rows.append([f"songpop mel, batch_size={tr.batch_size}", "2 (threads)", f"{n / t:.0f}",
                 f"{t_ref / t:.1f}x"])
    tr = SpectrogramTransformer(kind="paper", sr=sr).fit(clips[:1])
    t = median_time(lambda: tr.transform(clips), repeat=3)
    rows.append(["songpop paper image (160x160)", "1", f"{n / t:.0f}", f"{t_ref / t:.1f}x"])
    return "## Spectrograms of 3-second clips at 22,050 Hz\n\n" + table(
        ["method", "n_jobs", "clips/s", "vs librosa"], rows)
