"""The songpop command on a handful of tiny songs, run in-process through ``main(argv)``.

One test runs the installed module in a subprocess, so the entry point is covered too.
"""

import contextlib
import csv
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sklearn_songpop._write import write_audio
from sklearn_songpop.datasets import make_songs, write_songs
from sklearn_songpop.musicnn_net import MSD_TAGS
from tests._html import assert_tables_match, read_report


def _print_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def songpop(*args):
    """Run ``songpop ARGS`` as its entry point would, in this process.

    Standard output and error are captured as a subprocess's would be, and warnings
    reach the captured error stream as they would reach a terminal (Python's default
    filters, not pytest's), so a test that asks for one line of error sees them.
    """
    from sklearn_songpop.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                         ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = _print_warning
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: --help, or a usage error
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    songs = make_songs(n_songs=16, n_artists=3, popular_fraction=0.5, duration=4.0,
                       random_state=0)
    return write_songs(songs, folder, format=("mp3", "m4a"))


@pytest.fixture(scope="module")
def model(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "model.joblib"
    run = songpop("train", "--manifest", corpus, "--out", out, "--set", "classifier__max_epochs=3")
    assert run.returncode == 0, run.stderr
    assert "model saved to" in run.stdout
    # 16 labelled songs: the command points to the preset that does better on few
    assert "16 labelled songs" in run.stderr and "--preset musicnn" in run.stderr
    assert "16 of 16 songs are shorter than one 6-second interval and were padded" in \
        run.stderr
    # the table of epochs, in plain text when the output is not a terminal
    assert "train_loss" in run.stdout and "\x1b[" not in run.stdout
    import joblib

    assert joblib.load(out)[0].verbose == 0  # the saved sampler draws no bar by itself
    return out


def test_scan_ok_and_bad(corpus, tmp_path):
    ok = songpop("scan", corpus.parent)
    assert ok.returncode == 0, ok.stderr
    rows = list(csv.DictReader(io.StringIO(ok.stdout)))
    assert len(rows) == 16 and {r["format"] for r in rows} == {"MP3", "aac"}
    # four-second songs: shorter than the default's 6-second intervals, not musicnn's 3
    assert all("shorter than one 6-second interval" in r["note"] for r in rows)
    assert "16 shorter than one interval" in ok.stderr
    rows = list(csv.DictReader(io.StringIO(songpop("scan", corpus.parent, "--preset",
                                                   "musicnn").stdout)))
    assert not any(r["note"] for r in rows)
    (tmp_path / "bad.mp3").write_bytes(b"\x00" * 100)
    (tmp_path / "empty.wav").write_bytes(b"")
    bad = songpop("scan", tmp_path)
    assert bad.returncode == 1
    problems = {r["path"].rsplit("/", 1)[-1]: r["problem"] for r in
                csv.DictReader(io.StringIO(bad.stdout))}
    assert problems["empty.wav"] == "empty file (0 bytes)"
    assert "not a recognised audio file" in problems["bad.mp3"]


def test_predict_to_stdout_and_file(model, corpus, tmp_path):
    files = sorted(corpus.parent.glob("song_000[0-2].*"))
    run = songpop("predict", "--model", model, *files, "--intervals")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [r["song"] for r in rows] == [str(f) for f in files]
    for r in rows:
        assert 0.0 <= float(r["score_1"]) <= 1.0 and r["class"] in {"0", "1"}
        assert {"interval_0", "interval_1", "interval_2"} <= set(r)
    out = tmp_path / "scores.csv"
    assert songpop("predict", "--model", model, files[0], "--out", out).returncode == 0
    assert out.read_text().startswith("song,score_1,class")


def test_evaluate_writes_report(corpus, tmp_path):
    run = songpop("evaluate", "--manifest", corpus, "--cv", "3", "--out", tmp_path,
                  "--set", "classifier__max_epochs=2")
    assert run.returncode == 0, run.stderr
    assert "majority class" in run.stdout and (tmp_path / "report.json").is_file()
    summary = json.loads((tmp_path / "report.json").read_text())
    report = read_report(tmp_path / "report.html")
    assert_tables_match(report, summary["scores"])
    assert_tables_match(report, summary["leak_comparison"], table="leak")
    # confusion matrices, ROC, precision-recall, reliability, training curves
    assert len(report.images) == 5
    assert "How sure" in (tmp_path / "report.html").read_text()


def test_predict_adds_novelty(model, corpus, tmp_path):
    files = sorted(corpus.parent.glob("song_000[0-1].*"))
    noise = tmp_path / "noise.wav"
    sf.write(noise, np.random.default_rng(0).standard_normal(22050 * 8) * 0.3, 22050)
    run = songpop("predict", "--model", model, *files, noise)
    assert run.returncode == 0, run.stderr
    rows = {r["song"]: float(r["novelty"]) for r in csv.DictReader(io.StringIO(run.stdout))}
    # the distance scale: 1 is a typical training song; noise lies far beyond
    assert rows[str(noise)] > 2 * max(rows[str(f)] for f in files)
    warnings = [line for line in run.stderr.splitlines() if "novelty" in line]
    assert len(warnings) == 1 and "noise.wav" in warnings[0]


def test_explain_writes_a_report(model, corpus, tmp_path):
    files = sorted(corpus.parent.glob("song_000[0-1].*"))
    run = songpop("explain", "--model", model, *files, "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    assert "strongest cell at" in run.stdout
    summary = json.loads((tmp_path / "explain.json").read_text())
    assert [s["song"] for s in summary["songs"]] == [str(f) for f in files]
    assert all(len(s["interval_starts_s"]) == 3 for s in summary["songs"])
    assert len(read_report(tmp_path / "report.html").images) == 2


def test_explain_errors_are_one_line(model, corpus, tmp_path):
    missing = songpop("explain", "--model", model, tmp_path / "nope.mp3", "--out", tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip().count("\n") == 0
    assert "nope.mp3" in missing.stderr and "file not found" in missing.stderr
    import joblib

    from sklearn_songpop import IntervalSampler, make_baselines

    baseline = make_baselines(IntervalSampler(), random_state=0)["log-mel band statistics"]
    baseline.fit(np.random.default_rng(0).standard_normal((6, 22050 * 4)), [0, 1] * 3)
    joblib.dump(baseline, tmp_path / "baseline.joblib")
    song = sorted(corpus.parent.glob("song_0000.*"))[0]
    flat = songpop("explain", "--model", tmp_path / "baseline.joblib", song, "--out", tmp_path)
    assert flat.returncode == 1 and flat.stderr.strip().count("\n") == 0
    assert "LogisticRegression" in flat.stderr and "Traceback" not in flat.stderr


def test_errors_are_one_line_and_nonzero(model, tmp_path):
    missing = songpop("predict", "--model", model, tmp_path / "nope.mp3")
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0
    assert "nope.mp3" in missing.stderr and "file not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    no_model = songpop("predict", "--model", tmp_path / "none.joblib", model)
    assert no_model.returncode == 1 and "model file not found" in no_model.stderr
    verbose = songpop("--verbose", "predict", "--model", tmp_path / "none.joblib", model)
    assert "Traceback" in verbose.stderr


@pytest.mark.slow  # starts an interpreter
def test_predict_help_warns_about_pickles():
    # the one subprocess: the module runs as a program
    run = subprocess.run([sys.executable, "-m", "sklearn_songpop.cli", "predict", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "runs code" in run.stdout


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    from sklearn_songpop.demo import run_demo

    out = run_demo(n_songs=30, cache=tmp_path / "cache", out=tmp_path / "out", duration=6.0,
                   n_splits=3, verbose=0)
    for name in ("report.txt", "report.json", "model.joblib", "roc.png",
                 "interval_timeline.png", "training_curves.png"):
        assert (tmp_path / "out" / name).is_file()
    summary = json.loads((tmp_path / "out" / "report.json").read_text())
    report = read_report(tmp_path / "out" / "report.html")
    assert_tables_match(report, summary["scores"])
    assert_tables_match(report, summary["leak_comparison"], table="leak")
    assert len(report.images) >= 7  # six figures and the explained song
    assert out["report"] == str(tmp_path / "out" / "report.html")
    text = (tmp_path / "out" / "report.txt").read_text()
    assert "majority class" in text and "Why group by artist" in text
    assert set(out["result"].scores) == {"default preset", "majority class",
                                         "log-mel band statistics"}
    # a second run reuses the generated songs
    files = sorted((tmp_path / "cache").rglob("*.mp3"))
    run_demo(n_songs=30, cache=tmp_path / "cache", out=tmp_path / "out2", duration=6.0,
             n_splits=3, verbose=0)
    assert sorted((tmp_path / "cache").rglob("*.mp3")) == files


@pytest.mark.parametrize("case", ["missing", "empty", "junk", "directory", "random bytes",
                                  "zero frames", "truncated"])
def test_train_and_predict_report_bad_files_in_one_line(model, corpus, tmp_path, case):
    bad = {"missing": tmp_path / "gone.mp3", "empty": tmp_path / "empty.mp3",
           "junk": tmp_path / "junk.wav", "directory": tmp_path / "folder",
           "random bytes": tmp_path / "noise.mp3", "zero frames": tmp_path / "zero.wav",
           "truncated": tmp_path / "cut.flac"}[case]
    if case == "empty":
        bad.write_bytes(b"")
    elif case == "junk":
        bad.write_bytes(b"not audio" * 100)
    elif case == "directory":
        bad.mkdir()
    elif case == "random bytes":
        bad.write_bytes(np.random.default_rng(0).bytes(8192))
    elif case == "zero frames":
        sf.write(bad, np.zeros(0, np.float32), 22050)
    elif case == "truncated":
        write_audio(bad, make_songs(n_songs=1, duration=12.0, random_state=0).waveforms[0],
                    22050)
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    good = next(corpus.parent.glob("song_0000.*"))
    manifest = tmp_path / "labels.csv"
    manifest.write_text(f"path,label\n{good},1\n{bad},0\n")
    for args in (["train", "--manifest", manifest, "--out", tmp_path / "m.joblib"],
                 ["predict", "--model", model, good, bad]):
        run = songpop(*args)
        assert run.returncode == 1, run.stdout
        line = run.stderr.strip()
        assert "\n" not in line and "Traceback" not in line
        assert str(bad) in line
    scan = songpop("scan", "--manifest", manifest)
    assert scan.returncode == 1 and str(bad) in scan.stdout


class _Mallopt:
    """Stands in for ctypes' ``libc.mallopt``: accepts argtypes/restype, records calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, param, value):
        self.calls.append((param, value))
        return 1


def test_songpop_fixes_glibc_thresholds_unless_the_user_did(monkeypatch):
    from types import SimpleNamespace

    from sklearn_songpop import _allocator, cli

    mallopt = _Mallopt()
    monkeypatch.setattr(_allocator.ctypes, "CDLL", lambda name: SimpleNamespace(mallopt=mallopt))
    monkeypatch.setattr(_allocator.sys, "platform", "linux")
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    assert cli.steady_allocator()
    # M_MMAP_THRESHOLD (-3) at 32 MiB, glibc's largest; M_TRIM_THRESHOLD (-1) at 256 MiB
    assert sorted(mallopt.calls) == [(-3, 32 * 2**20), (-1, 256 * 2**20)]

    mallopt.calls.clear()
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    assert not cli.steady_allocator()
    assert mallopt.calls == []


@pytest.fixture(scope="module")
def numbers(corpus):
    """The corpus's manifest with a star rating (1 to 3) and four release years."""
    rows = list(csv.DictReader(corpus.open()))
    for i, row in enumerate(rows):
        row["stars"], row["year"] = str(1 + i % 3), str(2019 + i % 4)
    path = corpus.parent / "numbers.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_continuous_labels_train_a_regressor_that_predicts_values(numbers, tmp_path):
    out = tmp_path / "reg.joblib"
    run = songpop("train", "--manifest", numbers, "--label-column", "popularity", "--out", out)
    assert run.returncode == 0, run.stderr
    assert "trained a regression model" in run.stdout
    files = sorted(numbers.parent.glob("song_000[0-1].*"))
    run = songpop("predict", "--model", out, *files, "--intervals")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert list(rows[0]) == ["song", "predicted", "novelty", "interval_0", "interval_1",
                             "interval_2"]
    for r in rows:
        values = [float(r[f"interval_{j}"]) for j in range(3)]
        assert float(r["predicted"]) == pytest.approx(np.mean(values), abs=1e-3)


def test_few_distinct_integers_stay_classes_unless_asked(numbers, tmp_path):
    run = songpop("train", "--manifest", numbers, "--label-column", "stars",
                  "--out", tmp_path / "stars.joblib", "--set", "classifier__max_epochs=2")
    assert run.returncode == 0, run.stderr
    assert "trained a classification model" in run.stdout
    run = songpop("train", "--manifest", numbers, "--label-column", "stars", "--task",
                  "regression", "--out", tmp_path / "stars_reg.joblib",
                  "--set", "regressor__max_epochs=2")
    assert run.returncode == 0, run.stderr
    assert "trained a regression model" in run.stdout
    run = songpop("train", "--manifest", numbers, "--label-column", "artist", "--task",
                  "regression", "--out", tmp_path / "no.joblib")
    assert run.returncode == 1 and "needs numbers" in run.stderr


def test_evaluate_a_regression_forward_in_time(numbers, tmp_path):
    run = songpop("evaluate", "--manifest", numbers, "--label-column", "popularity", "--cv", "3",
                  "--time-column", "year", "--time-splits", "2", "--out", tmp_path,
                  "--set", "regressor__max_epochs=2")
    assert run.returncode == 0, run.stderr
    assert "spearman" in run.stdout and "Forward in time:" in run.stdout
    assert "ReleaseYearSplit, 2 folds" in run.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["task"] == "regression"
    assert set(report["scores"]) == {"model", "training mean", "log-mel band statistics"}
    assert report["forward_in_time"]["n_songs"] == 8  # the songs of 2021 and 2022
    assert (tmp_path / "predicted_vs_true.png").is_file()


@pytest.fixture(scope="module")
def encoder_file(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("encoder") / "encoder.joblib"
    run = songpop("pretrain", "--songs", corpus.parent, "--out", out, "--epochs", 2,
                  "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert "pretrained an encoder on 16 songs (2 epochs, the lowest loss of 2 starts)" \
        in run.stdout
    return out


def test_pretrain_from_a_manifest_ignores_its_labels(corpus, tmp_path):
    out = tmp_path / "enc.joblib"
    run = songpop("pretrain", "--songs", corpus, "--out", out, "--epochs", 1, "--n-init", 1)
    assert run.returncode == 0, run.stderr
    assert "(1 epochs) in" in run.stdout
    assert out.is_file()


def test_pretrain_rejects_a_bad_n_init_in_one_line(tmp_path):
    # checked before the songs are listed: a folder that is not there is not reached
    run = songpop("pretrain", "--songs", tmp_path / "no_such_folder", "--out",
                  tmp_path / "enc.joblib", "--epochs", 1, "--n-init", 0)
    assert run.returncode != 0
    assert "n_init must be a positive integer, got 0" in run.stderr
    assert "Traceback" not in run.stderr


def test_pretrain_rejects_zero_epochs_before_reading_songs(tmp_path):
    out = tmp_path / "enc.joblib"
    run = songpop("pretrain", "--songs", tmp_path / "no_such_folder", "--out", out,
                  "--epochs", 0)
    assert run.returncode != 0
    assert "--epochs must be at least 1, got 0" in run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["pretrain", "similar"])
def test_a_missing_folder_of_songs_is_named(command, encoder_file, tmp_path):
    missing = tmp_path / "no_such_folder"
    args = (["--songs", missing, "--out", tmp_path / "enc.joblib"] if command == "pretrain"
            else ["--encoder", encoder_file, "--catalog", missing, missing])
    run = songpop(command, *args)
    assert run.returncode != 0
    assert f"{missing}: no such folder or manifest" in run.stderr
    assert "Traceback" not in run.stderr


def test_similar_leaves_a_song_out_of_its_own_neighbours(encoder_file, corpus):
    from sklearn_songpop import SongNeighbors, load_encoder, load_manifest

    song = next(p for p in sorted(corpus.parent.iterdir()) if p.suffix == ".mp3")
    run = songpop("similar", "--encoder", encoder_file, "--catalog", corpus, song, "-k", 3)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    assert not any(r["song"].endswith(song.name) for r in rows)  # not its own neighbour
    assert float(rows[0]["distance"]) <= float(rows[1]["distance"]) \
        <= float(rows[2]["distance"])
    # the index itself finds the song first, at distance 0: the command leaves it out
    index = SongNeighbors(load_encoder(encoder_file), n_neighbors=1)
    name, distance = index.fit(load_manifest(corpus).paths).similar([str(song)])[0][0]
    assert name.endswith(song.name) and distance < 1e-4


def test_train_on_an_encoder_probe_and_finetune(encoder_file, corpus, tmp_path):
    for mode, settings in (("probe", []), ("finetune", ["--set", "classifier__max_epochs=2"])):
        out = tmp_path / f"{mode}.joblib"
        run = songpop("train", "--manifest", corpus, "--out", out, "--encoder", encoder_file,
                      "--encoder-mode", mode, *settings)
        assert run.returncode == 0, run.stderr
        pred = songpop("predict", "--model", out, "--manifest", corpus)
        assert pred.returncode == 0, pred.stderr
        rows = list(csv.DictReader(io.StringIO(pred.stdout)))
        assert len(rows) == 16 and all(0 <= float(r["score_1"]) <= 1 for r in rows)
    per_interval = songpop("predict", "--model", tmp_path / "probe.joblib", "--manifest", corpus,
                           "--intervals")
    assert per_interval.returncode == 1 and "scores whole songs only" in per_interval.stderr


def test_encoder_file_errors_are_one_line(model, corpus, tmp_path):
    song = next(p for p in sorted(corpus.parent.iterdir()) if p.suffix == ".mp3")
    missing = songpop("similar", "--encoder", tmp_path / "nope.joblib", "--catalog", corpus, song)
    wrong = songpop("train", "--manifest", corpus, "--out", tmp_path / "m.joblib",
                    "--encoder", model)
    garbage = tmp_path / "garbage.joblib"
    garbage.write_text("not a pickle")
    broken = songpop("similar", "--encoder", garbage, "--catalog", corpus, song)
    for run, text in ((missing, "nope.joblib: model file not found"),
                      (wrong, "not a pretrained encoder"),
                      (broken, "garbage.joblib: not a model file")):
        assert run.returncode == 1
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], run.stderr


def test_train_takes_pipeline_settings_device_and_a_portable_copy(corpus, tmp_path):
    from sklearn_songpop import load_model, load_portable

    out, portable = tmp_path / "m.joblib", tmp_path / "portable"
    run = songpop("train", "--manifest", corpus, "--out", out, "--device", "cpu",
                  "--set", "classifier__max_epochs=2", "--set", "spectrogram__n_mels=32",
                  "--set", "classifier__module__channels=(8, 16)", "--portable", portable)
    assert run.returncode == 0, run.stderr
    assert "epoch" in run.stdout and "train_loss" in run.stdout  # skorch's epoch table
    model = load_model(out)
    params = model.get_params()
    assert params["classifier__max_epochs"] == 2 and params["spectrogram__n_mels"] == 32
    assert params["classifier__device"] == "cpu" and len(model[-1].history_) == 2
    assert model[-1].module_.body_state_dict()["blocks.1.0.weight"].shape[0] == 16
    again = load_portable(portable)
    files = [str(p) for p in sorted(corpus.parent.iterdir()) if p.suffix == ".mp3"][:3]
    np.testing.assert_allclose(again.predict_proba(files), model.predict_proba(files),
                               atol=1e-5)


@pytest.mark.parametrize(("setting", "message"), [
    ("spectrogram__nmels=3", "--set spectrogram__nmels=3: Invalid parameter 'nmels'"),
    ("spectrogramm__n_mels=3", "--set spectrogramm__n_mels: the pipeline has no such parameter"),
    ("max_epochs=3", "--set max_epochs: the pipeline has no such parameter"),
    ("classifier__max_epochs", "--set classifier__max_epochs: expected NAME=VALUE"),
    ("classifier__max_epochs=abc", "--set classifier__max_epochs=abc: expected a number (the "
                                   "preset has classifier__max_epochs=25)"),
])
def test_unknown_settings_are_one_line_errors(corpus, tmp_path, setting, message):
    run = songpop("evaluate", "--manifest", corpus, "--set", setting)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1 and message in lines[0], run.stderr


def test_help_shows_defaults():
    text = " ".join(songpop("evaluate", "--help").stdout.split())
    assert "folds of the cross-validation by artist (default: 5)" in text
    assert "(default: None)" not in text


def test_predict_help_has_no_training_options():
    text = songpop("predict", "--help").stdout
    assert "--group-column" not in text and "--label-column" not in text
    assert text.count("Load only models you made or trust") == 1


def test_features_writes_a_store_and_lists_bad_songs(corpus, tmp_path):
    pytest.importorskip("zarr", minversion="3")
    from sklearn_songpop.store import FeatureStore

    lines = corpus.read_text().splitlines()
    (tmp_path / "broken.mp3").write_bytes(b"\x00" * 64)
    manifest = tmp_path / "m.csv"
    head, *rows = lines
    rows = [",".join([str(corpus.parent / r.split(",")[0]), *r.split(",")[1:]]) for r in rows]
    manifest.write_text("\n".join([head, *rows[:4], f"{tmp_path / 'broken.mp3'},1,a0"]) + "\n")
    out = tmp_path / "store.zarr"
    stop = songpop("features", "--manifest", manifest, "--out", out, "--chunk-songs", "2")
    assert stop.returncode == 1 and stop.stderr.strip().count("\n") == 0
    assert "broken.mp3" in stop.stderr
    run = songpop("features", "--manifest", manifest, "--out", out, "--chunk-songs", "2",
                  "--on-error", "skip", "--set", "spectrogram__n_mels=32")
    assert run.returncode == 1 and "other front-end settings" in run.stderr
    run = songpop("features", "--manifest", manifest, "--out", out, "--chunk-songs", "2",
                  "--on-error", "skip")
    assert run.returncode == 0, run.stderr
    # the first run stopped after two chunks; this one did the last
    assert "1 song processed this run (4 done by an earlier run)" in run.stdout
    assert "of 4 songs, 1 failed" in run.stdout and "skipped" in run.stderr
    again = songpop("features", "--manifest", manifest, "--out", out, "--chunk-songs", "2",
                    "--on-error", "skip")
    assert "0 songs processed this run (5 done by an earlier run)" in again.stdout
    store = FeatureStore(out)
    assert store.status.tolist() == [1, 1, 1, 1, 2] and store.shape[2] == 64
    assert store.y is not None and store.groups is not None


def test_train_from_a_store_predicts_files(corpus, tmp_path):
    pytest.importorskip("zarr", minversion="3")
    out = tmp_path / "store.zarr"
    assert songpop("features", "--manifest", corpus, "--out", out).returncode == 0
    model = tmp_path / "m.joblib"
    both = songpop("train", "--manifest", corpus, "--features", out, "--out", model)
    assert both.returncode == 1 and "not both" in both.stderr
    other = songpop("train", "--features", out, "--out", model,
                    "--set", "spectrogram__n_mels=32")
    assert other.returncode == 1 and other.stderr.strip().count("\n") == 0
    assert "['spectrogram'] differ" in other.stderr
    run = songpop("train", "--features", out, "--out", model,
                  "--set", "classifier__max_epochs=2", "--portable", tmp_path / "portable")
    assert run.returncode == 0, run.stderr
    assert "trained a classification model on 16 songs" in run.stdout
    files = sorted(corpus.parent.glob("song_000[0-1].*"))
    predicted = songpop("predict", "--model", model, *files)
    assert predicted.returncode == 0, predicted.stderr
    rows = list(csv.DictReader(io.StringIO(predicted.stdout)))
    assert len(rows) == 2 and all(0 <= float(r["score_1"]) <= 1 for r in rows)


def test_features_on_a_dask_scheduler(corpus, tmp_path):
    pytest.importorskip("zarr", minversion="3")
    distributed = pytest.importorskip("dask.distributed")
    from sklearn_songpop.store import FeatureStore

    serial = tmp_path / "serial.zarr"
    assert songpop("features", "--manifest", corpus, "--out", serial,
                   "--chunk-songs", "4").returncode == 0
    out = tmp_path / "dask.zarr"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            with distributed.get_task_stream(client) as tasks:
                run = songpop("features", "--manifest", corpus, "--out", out,
                              "--chunk-songs", "4", "--scheduler", cluster.scheduler_address)
    assert run.returncode == 0, run.stderr
    assert len(tasks.data) == 4  # one task a chunk, run by the cluster's workers
    # equal up to float16 rounding of float32 FFTs that may round otherwise in
    # another process (see test_dask.py)
    np.testing.assert_allclose(FeatureStore(out)[:], FeatureStore(serial)[:], atol=0.07)
    import dask

    # in-process, Dask read its environment at import: set the time-out in its config
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        nobody = songpop("features", "--manifest", corpus, "--out", tmp_path / "no.zarr",
                         "--scheduler", "tcp://127.0.0.1:9")
    assert nobody.returncode == 1 and nobody.stderr.strip().count("\n") == 0
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered" in nobody.stderr


def test_tags_lists_each_songs_top_tags(corpus):
    songs = sorted(str(p) for p in Path(corpus).parent.iterdir() if p.suffix == ".mp3")[:2]
    run = songpop("tags", *songs, "--top", 3, "--device", "cpu")
    assert run.returncode == 0, run.stderr
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows[0] == ["song", "tag_1", "p_1", "tag_2", "p_2", "tag_3", "p_3"]
    assert [row[0] for row in rows[1:]] == songs
    for row in rows[1:]:
        p = [float(v) for v in row[2::2]]
        assert p == sorted(p, reverse=True) and 0 < p[-1] <= p[0] < 1
        assert all(tag in MSD_TAGS for tag in row[1::2])
    bad = songpop("tags", songs[0], "--top", 0)
    assert bad.returncode != 0 and "--top must be at least 1" in bad.stderr


@pytest.mark.slow
def test_train_and_predict_with_the_musicnn_preset(corpus, tmp_path):
    out = tmp_path / "musicnn.joblib"
    run = songpop("train", "--manifest", corpus, "--preset", "musicnn", "--out", out,
                  "--portable", tmp_path / "portable")
    assert run.returncode == 0, run.stderr
    assert "--preset musicnn" not in run.stderr  # the hint is for the other presets
    assert (tmp_path / "portable" / "head.npz").is_file()
    song = sorted(str(p) for p in Path(corpus).parent.iterdir() if p.suffix == ".m4a")[0]
    scored = songpop("predict", "--model", out, song)
    assert scored.returncode == 0, scored.stderr
    rows = list(csv.reader(io.StringIO(scored.stdout)))
    assert rows[0][:2] == ["song", "score_1"] and 0 <= float(rows[1][1]) <= 1
    refused = songpop("train", "--features", tmp_path, "--preset", "musicnn", "--out", out)
    assert refused.returncode != 0
    assert "--preset musicnn puts a linear model" in refused.stderr


@pytest.fixture(scope="module")
def model_files(model, encoder_file, numbers, corpus, tmp_path_factory):
    """A file of every kind a user might hand a command: the three kinds songpop makes
    beside the probe, and four it does not."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("kinds")
    files = {"classifier": model, "encoder": encoder_file}
    run = songpop("train", "--manifest", numbers, "--label-column", "stars", "--task",
                  "regression", "--out", folder / "regressor.joblib",
                  "--set", "regressor__max_epochs=1")
    assert run.returncode == 0, run.stderr
    files["regressor"] = folder / "regressor.joblib"
    run = songpop("train", "--manifest", corpus, "--encoder", encoder_file,
                  "--out", folder / "probe.joblib")
    assert run.returncode == 0, run.stderr
    files["probe"] = folder / "probe.joblib"
    joblib.dump({"weights": [1, 2]}, folder / "dict.joblib")
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), folder / "estimator.joblib")
    (folder / "labels.csv").write_text("path,label\na.mp3,1\n")
    (folder / "bytes.joblib").write_bytes(np.random.default_rng(0).bytes(2048))
    files.update({"dict": folder / "dict.joblib", "estimator": folder / "estimator.joblib",
                  "CSV": folder / "labels.csv", "random bytes": folder / "bytes.joblib"})
    return files


#: Which command takes which kind of file; every other pair is a one-line error.
_WORKS = {"predict": {"classifier", "regressor", "probe"},
          "explain": {"classifier", "regressor"}, "similar": {"encoder"}}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["classifier", "regressor", "encoder", "probe", "dict",
                                  "estimator", "CSV", "random bytes"])
def test_every_command_takes_or_names_every_kind_of_model_file(kind, model_files, corpus,
                                                                tmp_path):
    song = sorted(str(p) for p in Path(corpus).parent.iterdir() if p.suffix == ".mp3")[0]
    path = model_files[kind]
    runs = {"predict": songpop("predict", "--model", path, song),
            "explain": songpop("explain", "--model", path, song, "--out", tmp_path / "why"),
            "similar": songpop("similar", "--encoder", path, "--catalog", corpus, song,
                               "-k", 2)}
    for command, run in runs.items():
        if kind in _WORKS[command]:
            assert run.returncode == 0, (command, run.stderr)
        else:
            assert run.returncode == 1, (command, run.stdout)
            assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, \
                (command, run.stderr)
            assert str(path) in run.stderr, (command, run.stderr)
    expected = {"encoder": "holds a pretrained encoder", "dict": "holds a dict",
                "estimator": "holds a LogisticRegression"}
    if kind in expected:
        assert expected[kind] in runs["predict"].stderr


def test_outputs_go_to_new_folders_and_unwritable_ones_are_refused_first(model, corpus,
                                                                       tmp_path):
    song = sorted(str(p) for p in Path(corpus).parent.iterdir() if p.suffix == ".mp3")[0]
    out = tmp_path / "new" / "folder" / "scores.csv"
    run = songpop("predict", "--model", model, song, "--out", out)
    assert run.returncode == 0, run.stderr
    assert out.read_text().startswith("song,")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    refused = songpop("train", "--manifest", corpus, "--out", blocker / "model.joblib")
    assert refused.returncode == 1
    assert f"--out {blocker / 'model.joblib'}: cannot make the folder" in refused.stderr
    assert "trained" not in refused.stdout  # refused before any work


def test_verbose_is_taken_before_or_after_the_command():
    from sklearn_songpop.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["scan", "DIR"]).verbose is False
    for argv in (["--verbose", "scan", "DIR"], ["scan", "DIR", "--verbose"],
                 ["scan", "-v", "DIR"], ["-v", "train", "--manifest", "m.csv", "--out", "m"]):
        assert parser.parse_args(argv).verbose is True, argv


def test_the_command_line_loads_no_torch_before_work_starts():
    # songpop --help and argument errors answer without importing torch and friends
    code = ("import sys, sklearn_songpop, sklearn_songpop.cli\n"
            "sklearn_songpop.cli.build_parser()\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'librosa') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip() == "[]"
    from sklearn_songpop import MusicnnEmbedding, make_songs  # names load on first use

    assert MusicnnEmbedding.__module__ == "sklearn_songpop.musicnn"
    assert make_songs.__module__ == "sklearn_songpop.datasets"


@pytest.fixture(scope="module")
def artists_corpus(tmp_path_factory):
    """Thirty-two short songs by sixteen artists: enough artists to hold some out."""
    folder = tmp_path_factory.mktemp("artists")
    songs = make_songs(n_songs=32, n_artists=16, popular_fraction=0.4, duration=3.0,
                       random_state=1)
    return write_songs(songs, folder, format="wav")


@pytest.mark.slow
def test_train_calibrated_and_conformal_then_predict_sets(artists_corpus, model, tmp_path):
    out = tmp_path / "sure.joblib"
    run = songpop("train", "--manifest", artists_corpus, "--out", out, "--calibrate",
                  "--conformal", "0.25", "--set", "classifier__max_epochs=2",
                  "--set", "classifier__module__channels=(4, 8)",
                  "--set", "classifier__train_split=None", "--set", "classifier__callbacks=None",
                  "--set", "intervals__duration=1.0")
    assert run.returncode == 0, run.stderr
    assert "probabilities calibrated (sigmoid) on out-of-fold scores of" in run.stdout
    assert "conformal sets calibrated on" in run.stdout and "4 held-out artists" in run.stdout
    songs = sorted(str(p) for p in Path(artists_corpus).parent.glob("*.wav"))[:6]
    scored = songpop("predict", "--model", out, "--alpha", "0.25", *songs)
    assert scored.returncode == 0, scored.stderr
    rows = list(csv.DictReader(io.StringIO(scored.stdout)))
    assert list(rows[0])[:3] == ["song", "p_1", "class"]  # calibrated: probabilities
    assert len(rows) == 6 and {r["set"] for r in rows} <= {"", "0", "1", "0|1"}
    too_small = songpop("predict", "--model", out, "--alpha", "0.1", songs[0])
    assert too_small.returncode == 1
    assert "alpha=0.1 needs at least 9 calibration artists" in too_small.stderr
    plain = songpop("predict", "--model", model, "--alpha", "0.2", songs[0])
    assert plain.returncode == 1 and plain.stderr.count("\n") == 1
    assert "--alpha: this model has no conformal calibration" in plain.stderr


def test_calibration_and_conformal_options_are_checked_before_work(corpus, numbers,
                                                                   tmp_path):
    out = tmp_path / "m.joblib"
    few = songpop("train", "--manifest", corpus, "--out", out, "--conformal", "0.1")
    assert few.returncode == 1 and "--conformal 0.1: needs 9 held-out artists" in few.stderr
    bad = songpop("train", "--manifest", corpus, "--out", out, "--conformal", "1.5")
    assert bad.returncode == 1 and "alpha must lie between 0 and 1" in bad.stderr
    regression = songpop("train", "--manifest", numbers, "--task", "regression",
                         "--label-column", "stars", "--out", out, "--calibrate")
    assert regression.returncode == 1 and "--calibrate calibrates a classifier" in \
        regression.stderr
    assert not out.exists()


def test_predict_skips_unreadable_songs_when_asked(model, corpus, tmp_path):
    good = sorted(str(p) for p in Path(corpus).parent.iterdir() if p.suffix == ".mp3")[:2]
    bad = tmp_path / "junk.mp3"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    run = songpop("predict", "--model", model, "--on-error", "skip", good[0], bad, good[1])
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [r["song"] for r in rows] == [good[0], str(bad), good[1]]
    assert rows[1]["problem"] and rows[1]["score_1"] == "" and rows[1]["class"] == ""
    assert rows[0]["problem"] == "" and 0 <= float(rows[0]["score_1"]) <= 1
    assert f"skipped {bad}" in run.stderr and "Errno" not in run.stdout + run.stderr


def test_progress_goes_to_standard_error_and_only_when_asked(corpus, monkeypatch):
    args = ("evaluate", "--manifest", corpus, "--cv", "2", "--set", "classifier__max_epochs=1")
    plain = songpop(*args)  # standard error is not a terminal here: no progress
    assert plain.returncode == 0, plain.stderr
    assert "fold 1/2" not in plain.stdout + plain.stderr
    loud = songpop(*args, "-v")
    assert "default: fold 1/2" not in loud.stdout and "model: fold 1/2" in loud.stderr
    assert loud.stdout.splitlines()[0] == plain.stdout.splitlines()[0]  # results unchanged
    import argparse

    from sklearn_songpop.commands import _progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert _progress(argparse.Namespace(verbose=False, quiet=False)) == 1  # at a terminal
    assert _progress(argparse.Namespace(verbose=False, quiet=True)) == 0  # unless --quiet


def test_positive_class_names_the_label_whose_score_is_reported(corpus, tmp_path):
    out = tmp_path / "m.joblib"
    run = songpop("train", "--manifest", corpus, "--out", out, "--positive-class", "0",
                  "--set", "classifier__max_epochs=1")
    assert run.returncode == 0, run.stderr
    song = sorted(str(p) for p in Path(corpus).parent.iterdir() if p.suffix == ".mp3")[0]
    scored = songpop("predict", "--model", out, song)
    assert scored.stdout.startswith("song,score_0,class")
    wrong = songpop("evaluate", "--manifest", corpus, "--positive-class", "hit")
    assert wrong.returncode == 1
    assert "--positive-class hit: not a label of the manifest, whose labels are 0, 1" in \
        wrong.stderr


@pytest.mark.slow
def test_train_explain_and_similar_skip_unreadable_songs_when_asked(corpus, encoder_file,
                                                                    tmp_path):
    bad = tmp_path / "junk.mp3"
    bad.write_bytes(np.random.default_rng(1).bytes(4096))
    rows = corpus.read_text().splitlines()
    manifest = tmp_path / "labels.csv"
    manifest.write_text("\n".join([rows[0], *[
        ",".join([str(corpus.parent / r.split(",")[0]), *r.split(",")[1:]]) for r in rows[1:]],
        f"{bad},1,a0"]) + "\n")
    out = tmp_path / "m.joblib"
    stopped = songpop("train", "--manifest", manifest, "--out", out)
    assert stopped.returncode == 1 and str(bad) in stopped.stderr and not out.exists()
    trained = songpop("train", "--manifest", manifest, "--out", out, "--on-error", "skip",
                      "--set", "classifier__max_epochs=1")
    assert trained.returncode == 0, trained.stderr
    assert f"songpop train: skipped {bad}" in trained.stderr
    assert "on 16 songs" in trained.stdout  # the sixteen readable ones
    song = sorted(str(p) for p in Path(corpus).parent.iterdir() if p.suffix == ".mp3")[0]
    why = songpop("explain", "--model", out, song, bad, "--out", tmp_path / "why",
                  "--on-error", "skip")
    assert why.returncode == 0, why.stderr
    assert len(json.loads((tmp_path / "why" / "explain.json").read_text())["songs"]) == 1
    near = songpop("similar", "--encoder", encoder_file, "--catalog", corpus, song, bad,
                   "-k", 2, "--on-error", "skip")
    assert near.returncode == 0, near.stderr
    assert f"skipped {bad}" in near.stderr and str(bad) not in near.stdout
