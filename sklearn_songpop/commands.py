"""What each ``songpop`` command does: read its arguments, call the package, print.

:mod:`sklearn_songpop.cli` parses the command line and turns errors into
one line; the functions here run one command each and return its exit
status.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

#: Labelled songs below which ``songpop train`` suggests the musicnn preset: on the
#: musicnn benchmark its head beat the default preset up to 100 generated songs and
#: with 10 real recordings, and fell behind it at 200 songs.
SMALL_MANIFEST = 100

__all__ = ["CLIError", "cmd_demo", "cmd_evaluate", "cmd_explain", "cmd_features",
           "cmd_predict", "cmd_pretrain", "cmd_scan", "cmd_similar", "cmd_tags", "cmd_train"]


class CLIError(Exception):
    """An error to show as one line, with exit status 1 or 2."""


def _writable(path, option: str = "--out", folder: bool = False) -> None:
    """Make the folder ``path`` (or its parent) and check it can be written, before any
    work starts: a run should not end in an error after its work is done."""
    if not path:
        return
    target = Path(path) if folder else Path(path).parent
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"{option} {path}: cannot make the folder {target} "
                       f"({exc.strerror or exc})") from exc
    if not folder and Path(path).is_dir():
        raise CLIError(f"{option} {path}: is a folder; give a file name")
    if not os.access(target, os.W_OK):
        raise CLIError(f"{option} {path}: the folder {target} is not writable")


def _predictor(model, path):
    """The pipeline of ``path`` when it predicts popularity, else a one-line error."""
    from sklearn.pipeline import Pipeline

    last = model.steps[-1] if isinstance(model, Pipeline) else None
    if last is not None and last[0] in ("classifier", "regressor"):
        return model
    if last is not None and last[0] == "encoder":
        raise CLIError(f"{path}: holds a pretrained encoder (songpop pretrain), which "
                       "predicts nothing; use it with songpop similar, or train a model on "
                       "it with songpop train --encoder")
    kind = type(model).__name__ if last is None else f"pipeline ending in {last[0]!r}"
    raise CLIError(f"{path}: holds a {kind}, not a model made by songpop train (a pipeline "
                   "ending in a 'classifier' or a 'regressor')")


def _songs_from(args) -> tuple[list[str], object, object]:
    return _songs_and_times(args)[:3]


def _songs_and_times(args) -> tuple[list[str], object, object, object]:
    """Paths, labels, groups and release times (None where the manifest has none)."""
    from sklearn_songpop.datasets import find_audio, load_manifest

    if getattr(args, "manifest", None):
        m = load_manifest(args.manifest, label_column=getattr(args, "label_column", None),
                          group_column=getattr(args, "group_column", None), check_files=False,
                          time_column=getattr(args, "time_column", None))
        return m.paths, m.y, m.groups, m.times
    files = []
    for item in args.files:
        if os.path.isdir(item):
            found = find_audio(item)
            if not found:
                raise CLIError(f"{item}: a folder with no audio files in it")
            files.extend(found)
        else:
            files.append(item)
    if not files:
        raise CLIError("no audio files given")
    return files, None, None, None


def _task(requested: str, y) -> tuple[str, object]:
    """The task asked for, or the one the labels call for (numbers make a regression),
    and the labels as that task takes them."""
    from sklearn.utils.multiclass import type_of_target

    if requested == "auto":
        requested = "regression" if type_of_target(y) == "continuous" else "classification"
    if requested == "regression":
        if not _is_numeric(y):
            raise CLIError("--task regression needs numbers in the label column")
        y = y.astype(float)
    return requested, y


def _is_numeric(y) -> bool:
    """Whether every label is a number."""
    import numpy as np

    return np.issubdtype(np.asarray(y).dtype, np.number)


# ------------------------------------------------------------------------ commands
def cmd_scan(args) -> int:
    from sklearn_songpop.audio import AudioError, check_audio

    if args.manifest:
        paths = _songs_from(args)[0]
    elif args.dir:
        paths, _, _ = _songs_from(argparse.Namespace(files=[args.dir], manifest=None))
    else:
        raise CLIError("give a folder or --manifest")
    bad = 0
    writer = csv.writer(sys.stdout)
    writer.writerow(["path", "format", "duration_s", "channels", "sr", "problem"])
    for path in paths:
        try:
            info = check_audio(path)
            writer.writerow([path, info.format, f"{info.duration:.2f}", info.channels, info.sr,
                             ""])
        except AudioError as exc:
            bad += 1
            writer.writerow([path, "", "", "", "", next(iter(exc.problems.values()), str(exc))])
    print(f"{len(paths)} file(s), {bad} with problems", file=sys.stderr)
    return 1 if bad else 0


def _parse_settings(items: list[str]) -> dict:
    """``NAME=VALUE`` pairs of ``--set``; values are Python literals where they parse."""
    import ast

    settings = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise CLIError(f"--set {item}: expected NAME=VALUE, e.g. classifier__max_epochs=5")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # a plain string, such as a device name
        settings[name.strip()] = value
    return settings


def _pipeline(args, task: str, verbose: int):
    """The preset's pipeline for ``task`` with ``--device`` and every ``--set`` applied."""
    from sklearn_songpop.pipeline import make_songpop_pipeline

    pipe = make_songpop_pipeline(args.preset, task=task, random_state=args.random_state,
                                 verbose=verbose)
    # the device goes to the step that runs a network (the last, or musicnn's embedding)
    devices = [name for name, step in pipe.steps if "device" in step.get_params(deep=False)]
    settings = {f"{name}__device": args.device for name in devices}
    settings.update(_parse_settings(args.set))
    steps = [name for name, _ in pipe.steps]
    current = pipe.get_params()
    for name, value in settings.items():
        if name.split("__")[0] not in steps or "__" not in name:
            raise CLIError(f"--set {name}: the pipeline has no such parameter; names start "
                           f"with a step ({', '.join(steps)}) and two underscores")
        now = current.get(name)
        if isinstance(value, str) and isinstance(now, (int, float)) \
                and not isinstance(now, bool):
            raise CLIError(f"--set {name}={value}: expected a number (the preset has "
                           f"{name}={now!r})")
        try:
            pipe.set_params(**{name: value})
        except (ValueError, TypeError) as exc:
            first = str(exc).split(". ")[0]
            raise CLIError(f"--set {name}={value!r}: {first}") from exc
    return pipe


def cmd_train(args) -> int:
    from sklearn_songpop.songnet import SongNet

    if bool(args.manifest) == bool(args.features):
        raise CLIError("give the songs as --manifest, or their spectrograms as --features "
                       "(a store from songpop features), not both")
    if args.preset == "musicnn" and (args.features or args.encoder):
        raise CLIError("--preset musicnn puts a linear model on musicnn's frozen embedding: "
                       "it takes --manifest, and neither --features nor --encoder")
    _writable(args.out)
    _writable(args.portable, "--portable", folder=True)
    if args.features:
        return _train_from_store(args)
    paths, y, groups, times = _songs_and_times(args)
    if y is None:
        raise CLIError("training needs labels: give --manifest with a label column")
    task, y = _task(args.task, y)
    if args.set and args.encoder and args.encoder_mode == "probe":
        raise CLIError("--set changes the preset's pipeline, which --encoder-mode probe "
                       "replaces by a linear model on the encoder's embeddings")
    if args.portable and args.encoder and args.encoder_mode == "probe":
        raise CLIError("--portable saves a network's weights; a linear probe on an encoder "
                       "has none of its own (use --encoder-mode finetune, or drop --portable)")
    # the sampler's progress bar on a terminal (standard error), or with --verbose
    pipe = _pipeline(args, task, verbose=int(args.verbose or sys.stderr.isatty()))
    if args.encoder:
        pipe = _with_encoder(pipe, args.encoder, args.encoder_mode, task)
    if args.cv:
        from sklearn_songpop.evaluation import evaluate

        print(evaluate(pipe, paths, y, groups=groups, cv=args.cv,
                       times=times, verbose=int(args.verbose)))
    if isinstance(pipe.steps[-1][1], SongNet):
        _epoch_table(pipe.steps[-1][1])  # skorch's epoch table for the final fit
    t0 = time.perf_counter()
    pipe.fit(paths, y)
    _save_trained(pipe, args, f"a {task} model on {len(paths)} songs", t0)
    if task == "classification" and args.preset != "musicnn" and not args.encoder \
            and len(paths) < SMALL_MANIFEST:
        print(f"songpop train: note: {len(paths)} labelled songs. Below about "
              f"{SMALL_MANIFEST}, a linear model on musicnn's pretrained embedding "
              "(--preset musicnn) scored higher than the networks trained from scratch on "
              "our measurements (user guide, 'Pretrained music knowledge')", file=sys.stderr)
    return 0


def _epoch_table(net):
    """The network set to print skorch's table of epochs: in colour on a terminal, plain
    text when standard output goes to a file or a pipe."""
    net.set_params(verbose=1)
    if not sys.stdout.isatty():
        from sklearn_songpop.training import PlainPrintLog

        net.set_params(callbacks__print_log=PlainPrintLog())
    return net


def _save_trained(model, args, what: str, t0: float) -> None:
    """Save a trained model (and its portable copy with ``--portable``) and say so."""
    _save_model(model, args.out)
    print(f"trained {what} in {time.perf_counter() - t0:.1f} s; model saved to {args.out}")
    if args.portable:
        from sklearn_songpop.portable import save_portable

        save_portable(model, args.portable)
        print(f"portable copy (settings.json and weights.pt, no pickle) in {args.portable}")


def _train_from_store(args) -> int:
    """The preset's network trained on a feature store, saved behind the store's front end."""
    from sklearn_songpop.store import FeatureStore

    if args.encoder or args.cv:
        raise CLIError("--features trains the preset's network from the store; --encoder and "
                       "--cv need the songs (--manifest)")
    store = FeatureStore(args.features)
    if store.y is None:
        raise CLIError(f"{args.features}: the store holds no labels (write it from a "
                       "manifest with a label column)")
    task, y = _task(args.task, store.y[store.rows])
    pipe = _pipeline(args, task, verbose=0)
    store.check_front_end(pipe[:-1])
    net = _epoch_table(pipe.steps[-1][1])
    t0 = time.perf_counter()
    net.fit(store, y)
    _save_trained(store.pipeline(net), args,
                  f"a {task} model on {len(y)} songs of {args.features}", t0)
    return 0


def _with_encoder(pipe, path: str, mode: str, task: str):
    """The pipeline built on a pretrained encoder: a linear model on its embeddings
    (``probe``) or the network fine-tuned from its body (``finetune``)."""
    from sklearn.frozen import FrozenEstimator

    from sklearn_songpop.pretraining import load_encoder, make_probe

    encoder = load_encoder(path)
    if mode == "finetune":
        step = pipe.steps[-1][0]
        # a FrozenEstimator survives the clones of cross-validation
        return pipe.set_params(**{f"{step}__init_from": FrozenEstimator(encoder)})
    return make_probe(encoder, task=task)


def _paths_of(item: str) -> list[str]:
    """The songs of a manifest (its other columns unread) or the audio files of a folder."""
    if os.path.isfile(item):
        from sklearn_songpop.datasets import load_manifest

        return load_manifest(item, label_column=None, group_column=None,
                             check_files=False).paths
    if not os.path.isdir(item):
        raise CLIError(f"{item}: no such folder or manifest")
    return _songs_from(argparse.Namespace(files=[item], manifest=None))[0]


def cmd_pretrain(args) -> int:
    from skorch.callbacks import ProgressBar

    from sklearn_songpop.pipeline import make_songpop_pipeline

    _writable(args.out)
    pipe = make_songpop_pipeline(task="pretraining", random_state=args.random_state,
                                 verbose=1, encoder__device=args.device)
    encoder = pipe[-1]
    if args.epochs is not None:
        # the encoder takes 0 (initialise only, as tests do); a saved encoder must be trained
        if args.epochs < 1:
            raise CLIError(f"--epochs must be at least 1, got {args.epochs}: an encoder "
                           "trained for no epoch would be saved untrained")
        encoder.set_params(max_epochs=args.epochs)
    if args.n_init is not None:
        # checked here, before any song is decoded; the encoder checks it again in fit
        if args.n_init < 1:
            raise CLIError(f"--n-init: n_init must be a positive integer, got {args.n_init}")
        encoder.set_params(n_init=args.n_init)
    paths = _paths_of(args.songs)
    if len(paths) < 2:
        raise CLIError(f"{args.songs}: pretraining needs at least 2 songs, found {len(paths)}")
    encoder.set_params(callbacks=[*encoder.callbacks, ("progress", ProgressBar())])
    t0 = time.perf_counter()
    pipe.fit(paths)
    seconds = time.perf_counter() - t0
    _save_model(pipe, args.out)
    starts = f", the lowest loss of {encoder.n_init} starts" if encoder.n_init > 1 else ""
    print(f"pretrained an encoder on {len(paths)} songs ({encoder.max_epochs} epochs{starts}) "
          f"in {seconds:.1f} s; saved to {args.out}")
    return 0


def cmd_similar(args) -> int:
    from sklearn_songpop.pretraining import load_encoder
    from sklearn_songpop.similar import SongNeighbors

    _writable(args.out)
    encoder = load_encoder(args.encoder)
    catalog = _paths_of(args.catalog)
    queries = _songs_from(argparse.Namespace(files=args.files, manifest=None))[0]
    index = SongNeighbors(encoder, n_neighbors=args.k).fit(catalog)
    # a query that is also in the catalogue is not listed as its own neighbour
    found = index.similar(queries, n_neighbors=min(args.k + 1, len(catalog)))
    rows = []
    for query, near in zip(queries, found, strict=True):
        others = [(name, d) for name, d in near
                  if os.path.abspath(name) != os.path.abspath(query)][:args.k]
        rows += [[query, rank, name, f"{d:.4f}"] for rank, (name, d) in enumerate(others, 1)]
    _write_rows(args.out, ["query", "rank", "song", "distance"], rows)
    return 0


def cmd_tags(args) -> int:
    import numpy as np

    from sklearn_songpop.intervals import IntervalSampler
    from sklearn_songpop.musicnn import MusicnnEmbedding
    from sklearn_songpop.pipeline import PRESETS

    if args.top < 1:
        raise CLIError(f"--top must be at least 1, got {args.top}")
    _writable(args.out)
    songs = _songs_from(argparse.Namespace(files=args.files, manifest=None))[0]
    # the musicnn preset's three 3-second intervals of each song, as its pipeline hears them
    sampler = IntervalSampler(**PRESETS["musicnn"]["intervals"], random_state=0,
                              verbose=int(args.verbose or sys.stderr.isatty()))
    tagger = MusicnnEmbedding(output="tags", device=args.device)
    proba = tagger.fit_transform(sampler.fit_transform(songs))
    names = tagger.get_feature_names_out()
    top = min(args.top, len(names))
    rows = []
    for song, p in zip(songs, proba, strict=True):
        best = np.argsort(-p, kind="stable")[:top]
        rows.append([song, *[v for j in best for v in (names[j], f"{p[j]:.3f}")]])
    _write_rows(args.out, ["song", *[f"{k}_{i}" for i in range(1, top + 1)
                                     for k in ("tag", "p")]], rows)
    return 0


def _save_model(pipe, out) -> None:
    from sklearn_songpop.persistence import save_model

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_model(pipe, out)


def cmd_predict(args) -> int:
    from sklearn_songpop.persistence import load_model

    _writable(args.out)
    model = _predictor(load_model(args.model), args.model)
    paths, _, _ = _songs_from(args)
    steps = dict(model.steps)
    last = model.steps[-1][1]
    by_interval = hasattr(last, "predict_interval") or hasattr(last, "predict_interval_proba")
    if args.intervals and not by_interval:
        raise CLIError(f"--intervals: this model ends in a {type(last).__name__} on song "
                       "embeddings (a linear probe), which scores whole songs only")
    Xi = model[:-1].transform(paths)
    if not by_interval:  # one value per song; a song is one "interval" below
        Xi = Xi[:, None]
    if "regressor" in steps:  # a value per song and interval
        reg = steps["regressor"]
        values = reg.predict_interval(Xi) if by_interval else reg.predict(Xi[:, 0])[:, None]
        head = ["song", "predicted"]
        rows = [[path, f"{v.mean():.4f}"] + ([f"{x:.4f}" for x in v] if args.intervals else [])
                for path, v in zip(paths, values)]
    else:  # the probability of the last class per song and interval, and the class
        clf = steps["classifier"]
        proba = (clf.predict_interval_proba(Xi) if by_interval
                 else clf.predict_proba(Xi[:, 0])[:, None])
        classes = list(clf.classes_)
        pos = len(classes) - 1
        head = ["song", f"p_{classes[pos]}", "class"]
        rows = [[path, f"{p[pos]:.4f}", classes[int(p.argmax())]]
                + ([f"{v:.4f}" for v in ip[:, pos]] if args.intervals else [])
                for path, p, ip in zip(paths, proba.mean(axis=1), proba)]
    novelty = _novelty(last, Xi) if by_interval else None
    if novelty is not None:
        head.append("novelty")
        for row, value in zip(rows, novelty):
            row.insert(len(head) - 1, f"{value:.3f}")
        _warn_novel(paths, novelty)
    if args.intervals:
        head += [f"interval_{j}" for j in range(Xi.shape[1])]
    _write_rows(args.out, head, rows)
    return 0


def _novelty(net, X):
    """The network's novelty scores, or None when it kept no training songs."""
    if getattr(net, "novelty_reference_", None) is None:
        return None
    return net.novelty(X)


def _warn_novel(paths, novelty) -> None:
    """One line on stderr for each song further out than every training song."""
    from sklearn_songpop._novelty import WARN_AT

    for path, value in zip(paths, novelty):
        if value >= WARN_AT:
            print(f"songpop: warning: {path}: novelty {value:.2f}, further from the training "
                  "songs than any of them lies from the others; read its score with care",
                  file=sys.stderr)


def cmd_explain(args) -> int:
    import numpy as np

    from sklearn_songpop._json import to_json_types
    from sklearn_songpop.explain import explain
    from sklearn_songpop.persistence import load_model
    from sklearn_songpop.report import explained_songs, write_report

    _writable(args.out, folder=True)
    model = load_model(args.model)
    paths, _, _ = _songs_from(args)
    why = explain(model, paths, method=args.method)
    names = [os.path.basename(p) for p in paths]
    entries = explained_songs(why, names)
    os.makedirs(args.out, exist_ok=True)
    summary = []
    for i, (path, entry) in enumerate(zip(paths, entries)):
        attr = why.attributions[i]
        j, b, t = np.unravel_index(int(np.argmax(attr)), attr.shape)
        summary.append({
            "song": path, "prediction": entry["prediction"],
            "target": None if why.targets is None else to_json_types(why.targets[i]),
            "output": float(why.predictions[i]),
            "novelty": entry["novelty"],
            "interval_starts_s": [round(float(x), 3) for x in why.starts[i]],
            "interval_outputs": [round(float(x), 4) for x in why.interval_predictions[i]],
            "strongest_cell": {"interval": int(j), "hz": round(float(why.frequencies[b]), 1),
                               "seconds": round(float(why.starts[i][j] + why.times[t]), 2)},
        })
        print(f"{path}: {entry['prediction']}"
              + (f", novelty {entry['novelty']:.2f}" if entry["novelty"] is not None else "")
              + f"; strongest cell at {summary[-1]['strongest_cell']['hz']:.0f} Hz, "
              f"{summary[-1]['strongest_cell']['seconds']:.1f} s")
    if why.novelty is not None:
        _warn_novel(paths, why.novelty)
    with open(os.path.join(args.out, "explain.json"), "w", encoding="utf-8") as f:
        json.dump({"method": why.method, "songs": summary}, f, indent=2)
    page = write_report(args.out, "Why the model said what it said", songs=entries,
                        notes=[f"Model {args.model}; attributions by {why.method}."])
    print(f"report written to {page}")
    return 0


def _write_rows(path, head: list[str], rows: list[list]) -> None:
    """A CSV to ``path``, or to standard output when ``path`` is None."""
    out = open(path, "w", newline="", encoding="utf-8") if path else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(head)
        writer.writerows(rows)
    finally:
        if path:
            out.close()


def cmd_evaluate(args) -> int:
    from sklearn_songpop.evaluation import evaluate

    _writable(args.out, folder=True)
    paths, y, groups, times = _songs_and_times(args)
    if y is None:
        raise CLIError("evaluation needs labels: give --manifest with a label column")
    task, y = _task(args.task, y)
    pipe = _pipeline(args, task, verbose=0)
    result = evaluate(pipe, paths, y, groups=groups, cv=args.cv,
                      times=times, n_time_splits=args.time_splits, verbose=int(args.verbose))
    print(result)
    if args.out:
        _evaluation_report(args, result, pipe, paths, y, groups, task)
    return 0


def _evaluation_report(args, result, pipe, paths, y, groups, task) -> None:
    """report.json, the figures and report.html in ``args.out``."""
    from sklearn_songpop.evaluation import leak_comparison
    from sklearn_songpop.report import write_report

    os.makedirs(args.out, exist_ok=True)
    leak = None
    if task == "classification" and groups is not None:
        leak = leak_comparison(result, paths, y, sampler=pipe.named_steps.get("intervals"),
                               random_state=args.random_state)
    result.save_json(os.path.join(args.out, "report.json"),
                     extra={"leak_comparison": leak} if leak else None)
    figures = result.plot(args.out)
    figures += _training_figure(result, args.out)
    page = write_report(args.out, f"Cross-validation of the {args.preset} preset",
                        summary=result.to_dict(), leak=leak,
                        figures=[(Path(f).stem.replace("_", " "), f) for f in figures])
    print(f"report and figures written to {args.out} (open {page})")


def _training_figure(result, folder) -> list[str]:
    """The loss by epoch of the model fitted on the last fold, when it has a history."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from sklearn_songpop.plotting import plot_training_curves

    for name, fitted in result.estimators.items():
        net = fitted[-1] if hasattr(fitted, "steps") else fitted
        if getattr(net, "history_", None):
            fig, ax = plt.subplots(figsize=(6, 4))
            plot_training_curves(net, ax=ax)
            ax.set_title(f"{name}: loss by epoch, last fold")
            path = os.path.join(folder, "training_curves.png")
            fig.tight_layout()
            fig.savefig(path, dpi=110)
            plt.close(fig)
            return [path]
    return []


@contextmanager
def _dask_scheduler(address: str | None):
    """Joblib's jobs go to the Dask scheduler at ``address`` (none: this machine's backend)."""
    if not address:
        yield
        return
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise CLIError("--scheduler needs dask.distributed: pip install "
                       "'sklearn-songpop[dask]'") from exc
    from joblib import parallel_config

    try:
        client = Client(address)  # waits distributed.comm.timeouts.connect
    except (OSError, TimeoutError, ValueError) as exc:
        raise CLIError(f"--scheduler {address}: no Dask scheduler answered there "
                       f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                       ) from exc
    with client, parallel_config(backend="dask"):
        yield


def cmd_features(args) -> int:
    from sklearn_songpop.store import write_features

    _writable(args.out, folder=True)
    paths, y, groups = _songs_from(args)
    front = _pipeline(args, "classification", verbose=0)[:-1]
    if "spectrogram" in front.named_steps:
        front.set_params(spectrogram__device=args.device)
    with _dask_scheduler(args.scheduler):
        store = write_features(paths, args.out, front, y=y, groups=groups,
                               chunk_songs=args.chunk_songs, on_error=args.on_error,
                               n_jobs=args.n_jobs,
                               verbose=int(args.verbose) or int(sys.stderr.isatty()))
    failures = store.failures
    for path, reason in failures.items():
        print(f"songpop: skipped {path}: {reason}", file=sys.stderr)
    print(f"{len(store) - len(failures)} songs written to {args.out} "
          f"(spectrograms {store.shape[1:]}, {len(failures)} failed)")
    return 0


def cmd_demo(args) -> int:
    from sklearn_songpop.demo import run_demo

    run_demo(n_songs=args.n_songs, cache=args.cache, out=args.out,
             random_state=args.random_state, verbose=1)
    return 0


# ------------------------------------------------------------------------ parser
