"""Learning curve on few songs: the default preset, the paper preset and the baselines.

Issue 12. Generated songs (20 s, ``n_artists = max(5, n // 10)``) at n = 50, 100, 200
and 400, data seeds 1 and 2; out-of-fold song probabilities from ``GroupKFold(5)`` by
artist; three training seeds of the default preset. Each front end (windows and
spectrograms) is computed once per data set and shared by every training seed: the
transformers learn nothing, so this leaks nothing across folds. The sampler's seed
stays 0, so the training seeds vary the network alone. The runs of a data set share
out over two worker processes, one torch thread each.

Targets: the default's mean ROC AUC at least the log-mel baseline's + 0.05 at every
n >= 100 and at least the baseline's at n = 50; standard deviation over training
seeds at most 0.03 at n >= 100; no run that puts 95% or more of the songs in one
class; training time per song and epoch at most 1.5 times the previous default's.

Each finished run is appended to ``benchmarks/results/learning_curve_<recipe hash>.jsonl``;
an interrupted benchmark, started again, goes on from there. A second table runs the
same comparison on real recordings when they can be had: the orchestral soundtrack of
Debian's ``flare-game`` against the themes of ``hedgewars-data`` (38 tracks), fetched
with ``apt-get download`` into ``benchmarks/results/real_audio`` (never by the package
or its tests).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import table

N_SONGS = (50, 100, 200, 400)
DATA_SEEDS = (1, 2)
TRAIN_SEEDS = (0, 1, 2)
#: The paper preset trains a 160x160 net without a fast path worth having (2.4 minutes
#: for 803 songs); one training seed, on the first data seed only, keeps the run in
#: budget (it puts every song in one class at every size there).
PAPER_SEEDS = (0,)
PAPER_DATA_SEEDS = (1,)
RESULTS_DIR = Path(__file__).parent / "results"
REAL_DIR = RESULTS_DIR / "real_audio"
REAL_PACKAGES = {
    "flare-game": "usr/share/games/flare/mods/fantasycore/music",
    "hedgewars-data": "usr/share/games/hedgewars/Data/Music",
}

#: The default preset as it was before issue 12, for the timing and the real recordings.
PREVIOUS_DEFAULT = {
    "intervals__duration": 3.0,
    "spectrogram__n_mels": 128,
    "classifier__max_epochs": 40,
    "classifier__crop_frames": None,
    "classifier__freq_mask": 0.0,
    "classifier__time_mask": 0.0,
    "classifier__criterion__label_smoothing": 0.0,
}


def _previous_default_callbacks() -> dict:
    from skorch.callbacks import EarlyStopping
    from skorch.dataset import ValidSplit

    return {
        "classifier__train_split": ValidSplit(0.2, stratified=True, random_state=0),
        "classifier__callbacks": [("early_stopping", EarlyStopping(patience=6, load_best=True))],
    }


def _fingerprint() -> str:
    """A short hash of both presets' plain settings: runs of another recipe are not reused."""
    from sklearn_songpop import make_songpop_pipeline

    plain = {}
    for preset in ("default", "paper"):
        for key, value in make_songpop_pipeline(preset).get_params().items():
            if value is None or isinstance(value, (bool, int, float, str, tuple)):
                plain[f"{preset}:{key}"] = repr(value)
    return hashlib.blake2b(json.dumps(plain, sort_keys=True).encode(), digest_size=6).hexdigest()


def _runs_file(quick: bool) -> Path:
    """Where finished runs are kept, so an interrupted benchmark goes on where it stopped."""
    return RESULTS_DIR / f"learning_curve_{'quick_' if quick else ''}{_fingerprint()}.jsonl"


def _scores(y, proba) -> dict:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    pred = proba >= 0.5
    return {"auc": roc_auc_score(y, proba), "ba": balanced_accuracy_score(y, pred),
            "one_class": max(pred.mean(), 1 - pred.mean())}


def _oof(estimator, X, y, cv, groups=None) -> np.ndarray:
    from sklearn.model_selection import cross_val_predict

    return cross_val_predict(estimator, X, y, groups=groups, cv=cv,
                             method="predict_proba")[:, 1]


def _fit_run(key: tuple, est, data, y, groups) -> dict:
    """One run of the curve, in a worker process of its own: out-of-fold scores and time."""
    import torch
    from sklearn.model_selection import GroupKFold

    from sklearn_songpop.cli import steady_allocator

    torch.set_num_threads(1)  # two workers share the two cores
    steady_allocator()
    n, ds, model, seed = key
    if model.endswith("preset"):
        est = copy.deepcopy(est).set_params(random_state=seed)
    t0 = time.perf_counter()
    proba = _oof(est, data, y, GroupKFold(5), groups)
    return {"n": n, "ds": ds, "model": model, "seed": seed,
            "fit_s": time.perf_counter() - t0,
            **{k: float(v) for k, v in _scores(y, proba).items()}}


def _curve(quick: bool) -> tuple[list[dict], dict]:
    """Every run of the generated learning curve: one dict per (n, data seed, model, seed).

    The runs of a data set go to two worker processes (one torch thread each),
    and each finished run is appended to the runs file at once.
    """
    from joblib import Parallel, delayed
    from sklearn.dummy import DummyClassifier

    from sklearn_songpop import make_baselines, make_songpop_pipeline, make_songs

    sizes = (50, 100) if quick else N_SONGS
    train_seeds = TRAIN_SEEDS[:2] if quick else TRAIN_SEEDS
    path = _runs_file(quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            run = json.loads(line)
            done[(run["n"], run["ds"], run["model"], run["seed"])] = run
    runs, front_s, reused = [], 0.0, 0
    for ds in DATA_SEEDS:
        for n in sizes:
            wanted = [(n, ds, m, 0) for m in ("majority class", "log-mel baseline")]
            wanted += [(n, ds, "default preset", s) for s in train_seeds]
            wanted += [(n, ds, "paper preset", s) for s in PAPER_SEEDS
                       if ds in PAPER_DATA_SEEDS]
            todo = [key for key in wanted if key not in done]
            reused += len(wanted) - len(todo)
            if not todo:
                runs += [done[key] for key in wanted]
                continue
            songs = make_songs(n_songs=n, n_artists=max(5, n // 10), duration=20.0,
                               random_state=ds)
            waves = np.stack(songs.waveforms)
            t0 = time.perf_counter()
            default = make_songpop_pipeline("default", random_state=0)
            windows = default[0].fit_transform(waves)
            X = default[1].fit_transform(windows)
            # the songs are generated at 22,050 Hz; the paper preset reads them at that rate
            paper = make_songpop_pipeline("paper", random_state=0, intervals__sr=22050,
                                          spectrogram__sr=22050)
            X_paper = (paper[:-1].fit_transform(waves)
                       if any(key[2] == "paper preset" for key in todo) else None)
            front_s += time.perf_counter() - t0
            del waves
            base = make_baselines(random_state=0)
            jobs = {"majority class": (DummyClassifier(), windows),
                    "log-mel baseline": (base["log-mel band statistics"], windows),
                    "default preset": (default[-1], X), "paper preset": (paper[-1], X_paper)}
            # the slowest first, so that neither worker is left with a long run at the end
            todo.sort(key=lambda key: key[2] not in ("paper preset", "default preset"))
            results = Parallel(n_jobs=2, return_as="generator_unordered")(
                delayed(_fit_run)(key, *jobs[key[2]], songs.y, songs.groups) for key in todo)
            for run in results:
                done[(run["n"], run["ds"], run["model"], run["seed"])] = run
                with open(path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(run) + "\n")
                print(f"  n={n} data seed {ds} {run['model']} seed {run['seed']}: "
                      f"AUC {run['auc']:.3f}", flush=True)
            runs += [done[key] for key in wanted]
    return runs, {"front_s": front_s, "reused": reused, "file": path.name}


def _seconds_per_song_epoch(quick: bool) -> dict:
    """Training time per song and epoch, this default against the previous one (128 mel bands,
    whole 3-second intervals), in turns."""
    from sklearn_songpop import make_songpop_pipeline, make_songs

    songs = make_songs(n_songs=80 if quick else 160, n_artists=16, duration=20.0,
                       random_state=1)
    waves, y = np.stack(songs.waveforms), songs.y
    epochs, out = 5, {}
    recipes = {"this default": {}, "previous default": PREVIOUS_DEFAULT}
    fronts = {name: make_songpop_pipeline("default", random_state=0, **kw)[:-1]
              .fit_transform(waves) for name, kw in recipes.items()}
    times = {name: [] for name in recipes}
    for _ in range(2 if quick else 3):  # turns alternate, so neither gets the warmer machine
        for name, kw in recipes.items():
            pipe = make_songpop_pipeline("default", random_state=0, **{
                **kw, "classifier__max_epochs": epochs, "classifier__train_split": None,
                "classifier__callbacks": None})
            pipe[-1].fit(fronts[name], y)
            # skorch's epoch durations, the first (warm-up) left out
            times[name].append(np.mean(pipe[-1].history_[1:, "dur"]) / len(y))
    for name in recipes:
        out[name] = float(np.median(times[name]))
    return out


def _fetch_real_audio() -> dict[str, list[str]] | None:
    """The tracks of both packages, fetched once into ``REAL_DIR``; None where apt-get fails."""
    found = {}
    for package, sub in REAL_PACKAGES.items():
        folder = REAL_DIR / package / sub
        if not folder.is_dir():
            if shutil.which("apt-get") is None:
                return None
            with tempfile.TemporaryDirectory() as tmp:
                got = subprocess.run(["apt-get", "download", package], cwd=tmp,
                                     capture_output=True, text=True)
                debs = list(Path(tmp).glob("*.deb"))
                if got.returncode != 0 or not debs:
                    print(f"  real recordings unavailable: apt-get download {package}: "
                          f"{got.stderr.strip()[-200:]}")
                    return None
                # dpkg -x makes its target folder, not the folders above it
                (REAL_DIR / package).mkdir(parents=True, exist_ok=True)
                subprocess.run(["dpkg", "-x", str(debs[0]), str(REAL_DIR / package)],
                               check=True)
        found[package] = sorted(str(p) for p in folder.glob("*.ogg"))
    return found


def real_tracks():
    """The 38 soundtrack paths, their labels (1 for flare-game) and the folds; None without them."""
    from sklearn.model_selection import StratifiedKFold

    tracks = _fetch_real_audio()
    if tracks is None:
        return None
    paths = tracks["flare-game"] + tracks["hedgewars-data"]
    y = np.array([1] * len(tracks["flare-game"]) + [0] * len(tracks["hedgewars-data"]))
    return paths, y, StratifiedKFold(5, shuffle=True, random_state=0)


def _real_audio(quick: bool) -> list[list] | None:
    """Default, previous default, paper preset and baseline on the two soundtracks."""
    from sklearn_songpop import make_baselines, make_songpop_pipeline

    real = real_tracks()
    if real is None:
        return None
    paths, y, cv = real
    seeds = TRAIN_SEEDS[:2] if quick else TRAIN_SEEDS
    models = {
        "default preset": lambda s: make_songpop_pipeline("default", random_state=s),
        "previous default": lambda s: make_songpop_pipeline(
            "default", random_state=s, **PREVIOUS_DEFAULT, **_previous_default_callbacks()),
        "paper preset": lambda s: make_songpop_pipeline("paper", random_state=s),
    }
    rows = []
    for name, build in models.items():
        # decode once per sampler seed: the windows are shared by the folds
        res = []
        for seed in seeds:
            pipe = build(seed)
            X = pipe[:-1].fit_transform(paths)
            res.append(_scores(y, _oof(pipe[-1], X, y, cv)))
        rows.append(_real_row(name, res, len(paths)))
    sampler = make_songpop_pipeline("default", random_state=0)[0]
    base = make_baselines(sampler, random_state=0)["log-mel band statistics"]
    rows.append(_real_row("log-mel baseline", [_scores(y, _oof(base, paths, y, cv))],
                          len(paths)))
    return rows


def _real_row(name: str, res: list[dict], n: int) -> list:
    auc = np.array([r["auc"] for r in res])
    ba = np.array([r["ba"] for r in res])
    return [name, n, len(res), f"{auc.mean():.3f} ± {auc.std():.3f}",
            f"{ba.mean():.3f} ± {ba.std():.3f}", f"{max(r['one_class'] for r in res):.2f}"]


def _summarise(runs: list[dict]) -> tuple[list[list], list[str]]:
    rows, verdicts = [], []
    sizes = sorted({r["n"] for r in runs})
    for n in sizes:
        base_auc = np.mean([r["auc"] for r in runs if r["n"] == n
                            and r["model"] == "log-mel baseline"])
        for model in ("default preset", "paper preset", "log-mel baseline", "majority class"):
            sel = [r for r in runs if r["n"] == n and r["model"] == model]
            auc = np.array([r["auc"] for r in sel])
            ba = np.array([r["ba"] for r in sel])
            by_ds = [np.std([r["auc"] for r in sel if r["ds"] == ds]) for ds in DATA_SEEDS
                     if any(r["ds"] == ds for r in sel)]
            seeds_sd = (" / ".join(f"{s:.3f}" for s in by_ds)
                        if len({r["seed"] for r in sel}) > 1 else "-")
            rows.append([n, model, len(sel), f"{auc.mean():.3f} ± {auc.std():.3f}", seeds_sd,
                         f"{ba.mean():.3f} ± {ba.std():.3f}",
                         f"{max(r['one_class'] for r in sel):.2f}"])
            if model == "default preset":
                margin = 0.05 if n >= 100 else 0.0
                ok_auc = auc.mean() >= base_auc + margin
                ok_sd = n < 100 or max(by_ds) <= 0.03
                ok_one = max(r["one_class"] for r in sel) < 0.95
                verdicts.append(
                    f"n = {n}: default AUC {auc.mean():.3f} against baseline {base_auc:.3f} "
                    f"+ {margin:.2f}: {'met' if ok_auc else 'NOT met'}; sd over training seeds "
                    f"{max(by_ds):.3f}{' (target 0.03)' if n >= 100 else ''}: "
                    f"{'met' if ok_sd else 'NOT met'}; largest one-class share "
                    f"{max(r['one_class'] for r in sel):.2f}: {'met' if ok_one else 'NOT met'}")
    return rows, verdicts


def run(quick: bool = False) -> str:
    from sklearn_songpop.cli import steady_allocator

    steady_allocator()  # as the songpop command does; see the training benchmark
    t0 = time.perf_counter()
    runs, info = _curve(quick)
    t_curve = time.perf_counter() - t0
    rows, verdicts = _summarise(runs)
    speed = _seconds_per_song_epoch(quick)
    default_fit = sum(r["fit_s"] for r in runs if r["model"] == "default preset")
    paper_fit = sum(r["fit_s"] for r in runs if r["model"] == "paper preset")
    # runs kept from an interrupted run count their own fit time, not this run's wall time
    text = ["## Learning curve on few songs (generated, GroupKFold(5) by artist)", "",
            f"Data seeds {DATA_SEEDS}; training seeds {TRAIN_SEEDS[:2] if quick else TRAIN_SEEDS}"
            f" for the default preset, {PAPER_SEEDS} for the paper preset on data seed(s) "
            f"{PAPER_DATA_SEEDS} (read at 22,050 Hz, the rate of the generated songs). Mean ± "
            "standard deviation over every run; the "
            "standard deviation over training seeds is given for each data seed. 'one class' "
            "is the largest share of songs that one run put in one class.", "",
            table(["songs", "model", "runs", "ROC AUC", "sd over training seeds (data 1 / 2)",
                   "balanced accuracy", "one class"], rows), "",
            *[f"- {v}" for v in verdicts],
            f"- training time per song and epoch: {speed['this default'] * 1e3:.1f} ms "
            f"(previous default {speed['previous default'] * 1e3:.1f} ms, ratio "
            f"{speed['this default'] / speed['previous default']:.2f}, target 1.5)",
            f"- time: front ends {info['front_s']:.0f} s, default preset fits "
            f"{default_fit:.0f} s, paper preset fits {paper_fit:.0f} s, curve {t_curve:.0f} s"
            + (f" ({info['reused']} of {len(runs)} runs read back from {info['file']}, with "
               "the fit times of the run that made them)" if info["reused"] else "")]
    real = _real_audio(quick)
    text += ["", "## Real recordings: flare-game (orchestral) against hedgewars-data (themes)", ""]
    if real is None:
        text.append("Not measured: the Debian packages could not be fetched.")
    else:
        text += ["38 Ogg tracks decoded through the pipeline; StratifiedKFold(5); mean ± "
                 "standard deviation over training (and sampler) seeds.", "",
                 table(["model", "tracks", "runs", "ROC AUC", "balanced accuracy", "one class"],
                       real)]
    return "\n".join(text)
