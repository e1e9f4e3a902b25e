"""Spectrogram throughput against a loop of librosa.feature.melspectrogram (target: 4x).

Also measures the batch size (clips per torch call) of the transformer, the dense
filter-bank product that the banded one replaced, and one clip per call. Every row
runs in turn with the librosa loop (:func:`benchmarks._common.paired_times`), and its
ratio is against the loop's median over the same minutes.
"""

from __future__ import annotations

import statistics

import numpy as np

from benchmarks._common import paired_times, table


def run(quick: bool = False) -> str:
    import librosa

    from sklearn_songpop.spectrogram import SpectrogramTransformer

    sr, n = 22050, 64 if quick else 256
    repeat = 3 if quick else 5
    rng = np.random.default_rng(0)
    clips = (0.3 * rng.standard_normal((n, 3 * sr))).astype(np.float32)

    def librosa_loop(batch=clips):
        for c in batch:
            librosa.power_to_db(librosa.feature.melspectrogram(
                y=c, sr=sr, n_fft=2048, hop_length=512, n_mels=128), top_db=80.0)

    rows, loop_rates = [], []

    def measure(label, n_jobs, fn, batch=clips):
        t_ref, t = paired_times(lambda: librosa_loop(batch), fn, repeat=repeat)
        loop_rates.append(len(batch) / t_ref)
        rows.append([label, n_jobs, f"{len(batch) / t:.0f}", f"{t_ref / t:.1f}x"])

    for batch in (1, 4, 16, 64):
        tr = SpectrogramTransformer(batch_size=batch).fit(clips[:1])
        measure(f"songpop mel, batch_size={batch}", "1", lambda tr=tr: tr.transform(clips))
    dense = SpectrogramTransformer().fit(clips[:1])
    dense.mel_blocks_ = None  # the dense 128 x 1025 product, as before the banded one
    measure("songpop mel, dense filter bank product, batch_size=4", "1",
            lambda: dense.transform(clips))
    # one clip per call, as a caller scoring songs one by one
    single = clips[:64 if quick else 200]
    tr = SpectrogramTransformer().fit(clips[:1])
    measure(f"songpop mel, one clip per call ({len(single)} calls)", "1",
            lambda: [tr.transform(c[None]) for c in single], batch=single)
    tr = SpectrogramTransformer(n_jobs=2).fit(clips[:1])
    measure(f"songpop mel, batch_size={tr.batch_size}", "2 (threads)",
            lambda: tr.transform(clips))
    tr = SpectrogramTransformer(kind="paper", sr=sr).fit(clips[:1])
    measure("songpop paper image (160x160)", "1", lambda: tr.transform(clips))
    rows.insert(0, ["librosa loop (median over every row's runs)", "-",
                    f"{statistics.median(loop_rates):.0f}", "1.0x"])
    return "## Spectrograms of 3-second clips at 22,050 Hz\n\n" + table(
        ["method", "n_jobs", "clips/s", "vs librosa (run in turn with it)"], rows)
