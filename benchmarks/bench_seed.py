"""The seed's experiment at its full size: 803 songs as MP3, three intervals each.

Both presets, ``fit`` then ``predict`` on the files, wall time and peak memory, each in a
fresh process. Targets on 2 cores (issue 7): default preset under 3 minutes, paper
preset under 5 minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import peak_mib, table


def _child(preset: str, manifest: str, device: str = "cpu") -> None:
    from sklearn_songpop.datasets import load_manifest
    from sklearn_songpop.pipeline import make_songpop_pipeline

    data = load_manifest(manifest)
    pipe = make_songpop_pipeline(preset, random_state=0)
    pipe.set_params(classifier__device=device, spectrogram__device=device)
    t0 = time.perf_counter()
    features = pipe[:-1].fit_transform(data.paths)
    t_front = time.perf_counter() - t0
    pipe.named_steps["classifier"].fit(features, data.y)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = pipe.predict(data.paths)
    t_pred = time.perf_counter() - t0
    print(json.dumps({"fit": t_fit, "front": t_front, "predict": t_pred, "peak_mib": peak_mib(),
                      "predicted_popular": int((pred == 1).sum()),
                      "epochs": len(pipe.named_steps["classifier"].history_)}))


def run(quick: bool = False) -> str:
    from sklearn_songpop.datasets import make_songs, write_songs

    n_songs = 120 if quick else 803
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        songs = make_songs(n_songs=n_songs, popular_fraction=176 / 803,
                           n_artists=max(5, n_songs // 10), duration=60.0, random_state=0)
        manifest = write_songs(songs, tmp, format="mp3", n_jobs=2)
        del songs  # the children run alone
        t_gen = time.perf_counter() - t0
        for preset in ("default", "paper"):
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_seed", preset, str(manifest)],
                capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append([preset, n_songs, 3 * n_songs, r["epochs"], f"{r['front']:.0f} s",
                         f"{r['fit']:.0f} s",
                         f"{r['predict']:.0f} s", f"{(r['fit'] + r['predict']) / 60:.1f} min",
                         f"{r['peak_mib']:.0f} MiB", r["predicted_popular"]])
    return (f"## The seed's experiment at full size ({n_songs} one-minute songs as MP3, "
            f"generated and written in {t_gen:.0f} s)\n\n" + table(
                ["preset", "songs", "intervals", "epochs run", "of which decoding and spectrograms",
                 "fit", "predict", "total",
                 "peak memory", "songs predicted popular"], rows))


if __name__ == "__main__":
    _child(*sys.argv[1:4])
