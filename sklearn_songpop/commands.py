"""What each ``songpop`` command does: read its arguments, call the package, print.

:mod:`sklearn_songpop.cli` parses the command line and turns errors into
one line; the functions here run one command each and return its exit
status. The commands that train and save a model (``train`` and
``pretrain``) are in :mod:`sklearn_songpop.training_commands`, on the
helpers here.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CLIError", "cmd_demo", "cmd_evaluate", "cmd_explain", "cmd_features",
           "cmd_predict", "cmd_scan", "cmd_similar", "cmd_tags"]


class CLIError(Exception):
    """An error to show as one line, with exit status 1 or 2."""


def _progress(args) -> int:
    """1 where a person waits at a terminal (standard error) or asked with ``--verbose``,
    0 with ``--quiet`` or when standard error goes to a file or a pipe."""
    if getattr(args, "quiet", False):
        return 0
    return int(bool(getattr(args, "verbose", False)) or sys.stderr.isatty())


def _show_progress(model, level: int):
    """The model's first step (the sampler) set to draw its bar at ``level`` (0: none)."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        first = model.steps[0][0]
        if f"{first}__verbose" in model.get_params():
            model.set_params(**{f"{first}__verbose": level})
    return model


def _note_short(paths, pipe, command: str) -> None:
    """One line on stderr when some songs are shorter than one of the pipeline's intervals
    and were padded or looped (the sampler's ``short``; with ``"error"`` the sampler
    refuses them itself)."""
    from sklearn_songpop.audio import AudioError, probe_files
    from sklearn_songpop.intervals import IntervalSampler

    sampler = pipe.steps[0][1]
    if not isinstance(sampler, IntervalSampler) or sampler.short == "error":
        return  # "error" refuses them itself, naming each
    try:
        durations = [info.duration for info in probe_files(paths)]
    except AudioError:
        return  # decoding names the bad files
    short = [p for p, d in zip(paths, durations) if d < sampler.duration]
    if short:
        done = {"pad": "padded with silence", "loop": "looped"}[sampler.short]
        print(f"songpop {command}: note: {len(short)} of {len(paths)} songs are shorter than "
              f"one {sampler.duration:g}-second interval and were {done} (e.g. {short[0]})",
              file=sys.stderr)


def _readable(paths, args, command: str) -> list[int]:
    """The indices of the songs to use: all of them unless ``--on-error skip``, which leaves
    out (and lists on stderr) the files :func:`~sklearn_songpop.check_audio` cannot read."""
    if getattr(args, "on_error", "stop") != "skip":
        return list(range(len(paths)))
    from sklearn_songpop.audio import AudioError, check_audio

    keep = []
    for i, path in enumerate(paths):
        try:
            check_audio(path)
            keep.append(i)
        except AudioError as exc:
            print(f"songpop {command}: skipped {path}: {exc.reason}", file=sys.stderr)
    if not keep:
        raise CLIError(f"none of the {len(paths)} songs could be read")
    return keep


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
    from sklearn_songpop.prediction import model_parts

    try:
        model_parts(model)
    except TypeError as exc:
        raise CLIError(f"{path}: {exc}") from exc
    return model


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


def _positive(args, y, task: str):
    """The label ``--positive-class`` names, as it appears in ``y``; None when not given."""
    import numpy as np

    label = getattr(args, "positive_class", None)
    if label is None:
        return None
    if task != "classification":
        raise CLIError("--positive-class names a label; a regression has numbers")
    classes = np.unique(y).tolist()
    for c in classes:
        if str(c) == label:
            return c
    raise CLIError(f"--positive-class {label}: not a label of the manifest, whose labels "
                   f"are {', '.join(str(c) for c in classes)}")


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
    from sklearn_songpop.pipeline import PRESETS

    interval = PRESETS[args.preset]["intervals"]["duration"]
    bad = short = 0
    writer = csv.writer(sys.stdout)
    writer.writerow(["path", "format", "duration_s", "channels", "sr", "problem", "note"])
    for path in paths:
        try:
            info = check_audio(path)
        except AudioError as exc:
            bad += 1
            writer.writerow([path, "", "", "", "", exc.reason, ""])
            continue
        note = ""
        if info.duration < interval:
            short += 1
            note = (f"shorter than one {interval:g}-second interval of the {args.preset} "
                    "preset: padded with silence when scored")
        writer.writerow([path, info.format, f"{info.duration:.2f}", info.channels, info.sr,
                         "", note])
    print(f"{len(paths)} file(s), {bad} with problems, {short} shorter than one interval",
          file=sys.stderr)
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
    from sklearn_songpop.distributed import launched_by_torchrun
    from sklearn_songpop.pipeline import make_songpop_pipeline

    pipe = make_songpop_pipeline(args.preset, task=task, random_state=args.random_state,
                                 verbose=verbose)
    # the device goes to the step that runs a network (the last, or musicnn's embedding)
    devices = [name for name, step in pipe.steps if "device" in step.get_params(deep=False)]
    settings = {f"{name}__device": args.device for name in devices}
    if launched_by_torchrun() and "distributed" in pipe[-1].get_params(deep=False):
        settings[f"{pipe.steps[-1][0]}__distributed"] = True
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


def _paths_of(item: str) -> list[str]:
    """The songs of a manifest (its other columns unread) or the audio files of a folder."""
    if os.path.isfile(item):
        from sklearn_songpop.datasets import load_manifest

        return load_manifest(item, label_column=None, group_column=None,
                             check_files=False).paths
    if not os.path.isdir(item):
        raise CLIError(f"{item}: no such folder or manifest")
    return _songs_from(argparse.Namespace(files=[item], manifest=None))[0]


def cmd_similar(args) -> int:
    from sklearn_songpop.pretraining import load_encoder
    from sklearn_songpop.similar import SongNeighbors

    _writable(args.out)
    encoder = load_encoder(args.encoder)
    catalog = _paths_of(args.catalog)
    catalog = [catalog[i] for i in _readable(catalog, args, "similar")]
    queries = _songs_from(argparse.Namespace(files=args.files, manifest=None))[0]
    queries = [queries[i] for i in _readable(queries, args, "similar")]
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
                              verbose=_progress(args))
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


def cmd_predict(args) -> int:
    from sklearn_songpop.persistence import load_model
    from sklearn_songpop.prediction import predict_table

    _writable(args.out)
    model = _predictor(load_model(args.model), args.model)
    paths, _, _ = _songs_from(args)
    _show_progress(model, _progress(args))
    try:
        table = predict_table(model, paths, intervals=args.intervals, alpha=args.alpha,
                              on_error="skip" if args.on_error == "skip" else "raise")
    except ValueError as exc:
        if not str(exc).startswith(("alpha", "intervals")):
            raise
        raise CLIError(f"--{exc}") from exc
    _report_problems(table)
    _note_short([p for p, bad in zip(paths, table["problem"]) if not bad], model, "predict")
    if "beyond_training" in table:
        _warn_novel(table)
        table = table.drop(columns="beyond_training")
    if not table["problem"].astype(bool).any():
        table = table.drop(columns="problem")
    _write_table(args.out, table)
    return 0


def _report_problems(table) -> None:
    """One line on stderr for each song that was skipped."""
    for song, problem in zip(table["song"], table["problem"]):
        if problem:
            print(f"songpop: skipped {song}: {problem}", file=sys.stderr)


def _write_table(path, table) -> None:
    """A prediction table as CSV, numbers to four decimals."""
    table.to_csv(path if path else sys.stdout, index=False, float_format="%.4f",
                 lineterminator="\n")


def _warn_novel(table) -> None:
    """One line on stderr for each song further out than every training song."""
    for song, value, beyond in zip(table["song"], table["novelty"], table["beyond_training"]):
        if beyond:
            print(f"songpop: warning: {song}: novelty {value:.1f} (1 is a typical training "
                  "song), further from the training songs than any of them lies from the "
                  "others; read its score with care", file=sys.stderr)


def cmd_explain(args) -> int:
    from sklearn_songpop.explain import explain, explanation_records
    from sklearn_songpop.persistence import load_model
    from sklearn_songpop.report import explained_songs, write_report

    _writable(args.out, folder=True)
    model = _show_progress(load_model(args.model), _progress(args))
    paths, _, _ = _songs_from(args)
    paths = [paths[i] for i in _readable(paths, args, "explain")]
    try:
        why = explain(model, paths, method=args.method)
    except TypeError as exc:  # a model explain cannot take: say which file holds it
        raise CLIError(f"{args.model}: {exc}") from exc
    entries = explained_songs(why, [os.path.basename(p) for p in paths])
    records = explanation_records(why, paths)
    for record in records:
        cell = record["strongest_cell"]
        print(f"{record['song']}: {record['prediction']}"
              + (f", novelty {record['novelty']:.1f}" if record["novelty"] is not None else "")
              + f"; strongest cell at {cell['hz']:.0f} Hz, {cell['seconds']:.1f} s")
    for entry, path in zip(entries, paths):
        if entry["warning"]:
            print(f"songpop: warning: {path}: {entry['warning']}", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "explain.json"), "w", encoding="utf-8") as f:
        json.dump({"method": why.method, "songs": records}, f, indent=2)
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
    positive = _positive(args, y, task)
    pipe = _pipeline(args, task, verbose=_progress(args))
    result = evaluate(pipe, paths, y, groups=groups, cv=args.cv, pos_label=positive,
                      times=times, n_time_splits=args.time_splits, verbose=_progress(args))
    print(result)
    if args.out:
        _evaluation_report(args, result, pipe, paths, y, groups, task)
    return 0


def _evaluation_report(args, result, pipe, paths, y, groups, task) -> None:
    """report.json, the figures and report.html in ``args.out``."""
    from sklearn_songpop.evaluation import leak_comparison
    from sklearn_songpop.plotting import save_training_figure
    from sklearn_songpop.report import write_report

    os.makedirs(args.out, exist_ok=True)
    leak = None
    if task == "classification" and groups is not None:
        leak = leak_comparison(result, paths, y, sampler=pipe.named_steps.get("intervals"),
                               random_state=args.random_state)
    result.save_json(os.path.join(args.out, "report.json"),
                     extra={"leak_comparison": leak} if leak else None)
    figures = result.plot(args.out)
    figures += save_training_figure(result, args.out)
    page = write_report(args.out, f"Cross-validation of the {args.preset} preset",
                        summary=result.to_dict(), leak=leak,
                        figures=[(Path(f).stem.replace("_", " "), f) for f in figures])
    print(f"report and figures written to {args.out} (open {page})")


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


def _songs_done(folder) -> int:
    """Songs a store in ``folder`` already holds (written or failed); 0 without a store."""
    from sklearn_songpop.store import FeatureStore

    try:
        return int((FeatureStore(folder).status != 0).sum())
    except (OSError, ValueError, KeyError, ImportError):
        return 0


def cmd_features(args) -> int:
    from sklearn_songpop.store import write_features

    _writable(args.out, folder=True)
    paths, y, groups = _songs_from(args)
    done_before = _songs_done(args.out)
    front = _pipeline(args, "classification", verbose=0)[:-1]
    if "spectrogram" in front.named_steps:
        front.set_params(spectrogram__device=args.device)
    with _dask_scheduler(args.scheduler):
        store = write_features(paths, args.out, front, y=y, groups=groups,
                               chunk_songs=args.chunk_songs, on_error=args.on_error,
                               compression=None if args.compression == "none"
                               else args.compression,
                               n_jobs=args.n_jobs,
                               verbose=_progress(args))
    failures = store.failures
    for path, reason in failures.items():
        print(f"songpop: skipped {path}: {reason}", file=sys.stderr)
    new = int((store.status != 0).sum()) - done_before
    already = f" ({done_before} done by an earlier run)" if done_before else ""
    print(f"{new} song{'' if new == 1 else 's'} processed this run{already}; {args.out} "
          f"holds the spectrograms {store.shape[1:]} of {int((store.status == 1).sum())} "
          f"songs, {len(failures)} failed")
    return 0


def cmd_demo(args) -> int:
    from sklearn_songpop.demo import run_demo

    run_demo(n_songs=args.n_songs, cache=args.cache, out=args.out,
             random_state=args.random_state, verbose=1)
    return 0


# ------------------------------------------------------------------------ parser
