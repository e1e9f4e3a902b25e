"""The ``songpop`` commands that train and save a model: ``train`` and ``pretrain``.

They read their arguments with the helpers of :mod:`sklearn_songpop.commands`
and return an exit status; under ``torchrun``, ``train`` fits one network
over the processes and the first one saves it.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

from sklearn_songpop.commands import (
    CLIError,
    _note_short,
    _paths_of,
    _pipeline,
    _positive,
    _progress,
    _readable,
    _show_progress,
    _songs_and_times,
    _task,
    _writable,
)

#: Labelled songs below which ``songpop train`` suggests the musicnn preset: on the
#: musicnn benchmark its head beat the default preset up to 100 generated songs and
#: with 10 real recordings, and fell behind it at 200 songs.
SMALL_MANIFEST = 100

__all__ = ["SMALL_MANIFEST", "cmd_pretrain", "cmd_train"]


def cmd_train(args) -> int:
    from sklearn_songpop.distributed import launched_by_torchrun

    if not launched_by_torchrun():
        return _train(args)
    # one of several processes that torchrun started: one model, trained data-parallel;
    # the first process reports and saves it, the others train in silence
    if args.cv or args.calibrate or args.conformal is not None:
        raise CLIError("under torchrun, train fits one network over the processes; --cv, "
                       "--calibrate and --conformal fit several: run them without torchrun")
    if int(os.environ.get("RANK", "0")) == 0:
        return _train(args)
    args.quiet = True
    with open(os.devnull, "w") as devnull, redirect_stdout(devnull):
        return _train(args, save=False)


def _train(args, save: bool = True) -> int:
    """``songpop train``: fit, then save unless ``save`` is False."""
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
        return _train_from_store(args, save)
    paths, y, groups, times = _songs_and_times(args)
    if y is None:
        raise CLIError("training needs labels: give --manifest with a label column")
    keep = _readable(paths, args, "train")
    if len(keep) < len(paths):
        import numpy as np

        paths, y = [paths[i] for i in keep], np.asarray(y)[keep]
        groups = None if groups is None else np.asarray(groups)[keep]
        times = None if times is None else np.asarray(times)[keep]
    task, y = _task(args.task, y)
    positive = _positive(args, y, task)
    if args.set and args.encoder and args.encoder_mode == "probe":
        raise CLIError("--set changes the preset's pipeline, which --encoder-mode probe "
                       "replaces by a linear model on the encoder's embeddings")
    if args.portable and args.encoder and args.encoder_mode == "probe":
        raise CLIError("--portable saves a network's weights; a linear probe on an encoder "
                       "has none of its own (use --encoder-mode finetune, or drop --portable)")
    # the sampler's progress bar on a terminal (standard error), or with --verbose
    pipe = _pipeline(args, task, verbose=_progress(args))
    if args.encoder:
        pipe = _with_encoder(pipe, args.encoder, args.encoder_mode, task)
    step = pipe.steps[-1][0]
    if isinstance(pipe.steps[-1][1], SongNet):
        _epoch_table(pipe.steps[-1][1])  # skorch's epoch table for the fits
    fit_params = _uncertainty(pipe, args, task, groups)
    if args.cv:
        from sklearn_songpop.evaluation import evaluate

        print(evaluate(pipe, paths, y, groups=groups, cv=args.cv, pos_label=positive,
                       times=times, verbose=_progress(args)))
    t0 = time.perf_counter()
    pipe.fit(paths, y, **fit_params)
    _note_short(paths, pipe, "train")
    _show_progress(pipe, 0)  # a saved model draws no bar until a command asks it to
    if positive is not None:  # predict reports this class's score
        from sklearn_songpop.prediction import POSITIVE_ATTRIBUTE

        setattr(pipe, POSITIVE_ATTRIBUTE, positive)
    if not save:
        return 0
    _save_trained(pipe, args, f"a {task} model on {len(paths)} songs", t0)
    _say_uncertainty(pipe[-1], step)
    if task == "classification" and args.preset != "musicnn" and not args.encoder \
            and len(paths) < SMALL_MANIFEST:
        print(f"songpop train: note: {len(paths)} labelled songs. Below about "
              f"{SMALL_MANIFEST}, a linear model on musicnn's pretrained embedding "
              "(--preset musicnn) scored higher than the networks trained from scratch on "
              "our measurements (user guide, 'Pretrained music knowledge')", file=sys.stderr)
    return 0


def _uncertainty(pipe, args, task: str, groups) -> dict:
    """Wrap the pipeline's last step as ``--calibrate`` and ``--conformal`` ask, and return
    the fit parameters that give it the artists."""
    from sklearn_songpop.conformal import min_calibration_groups
    from sklearn_songpop.pipeline import wrap_final_step

    if not args.calibrate and args.conformal is None:
        return {}
    if args.calibrate and task != "classification":
        raise CLIError("--calibrate calibrates a classifier's probabilities; a regression "
                       "takes --conformal for intervals")
    if args.conformal is not None:
        if not 0 < args.conformal < 1:
            raise CLIError(f"--conformal {args.conformal}: alpha must lie between 0 and 1")
        if groups is not None:
            held_out = round(0.25 * len(set(groups)))
            if held_out < min_calibration_groups(args.conformal):
                raise CLIError(
                    f"--conformal {args.conformal}: needs {min_calibration_groups(args.conformal)}"
                    f" held-out artists, and a quarter of the manifest's {len(set(groups))} "
                    f"is {held_out}; give a larger alpha or more artists")
    if groups is None:
        print("songpop train: note: no artist column, so calibration songs are split by song; "
              "for new artists, give the manifest an artist column (--group-column)",
              file=sys.stderr)
    wrap_final_step(pipe, calibrate=args.calibrate or False, conformal=args.conformal,
                    random_state=args.random_state)
    return {} if groups is None else {f"{pipe.steps[-1][0]}__groups": groups}


def _say_uncertainty(last, step: str) -> None:
    """What the wrapped last step was calibrated on, in a line each."""
    from sklearn.pipeline import Pipeline

    from sklearn_songpop.prediction import model_parts

    parts = model_parts(Pipeline([(step, last)]))
    if parts.calibrated:
        c = parts.calibrated
        print(f"probabilities calibrated ({c['method']}) on out-of-fold scores of "
              f"{c['n_songs']} songs by {c['n_groups']} artists, {c['cv']}")
    if parts.conformal is not None:
        conformal = parts.conformal
        print(f"conformal {'sets' if parts.task == 'classification' else 'intervals'} "
              f"calibrated on {len(conformal.calibration_scores_)} songs of "
              f"{conformal.n_calibration_groups_} held-out artists; predict --alpha takes "
              f"alpha >= {1 / (conformal.n_calibration_groups_ + 1):.3f}")


def _epoch_table(net):
    """The network set to print skorch's table of epochs: in colour on a terminal, plain
    text when standard output goes to a file or a pipe."""
    net.set_params(verbose=1)
    if not sys.stdout.isatty():
        from sklearn_songpop.training import PlainPrintLog

        net.set_params(callbacks__print_log=PlainPrintLog())
    return net


def _save_trained(model, args, what: str, t0: float) -> None:
    """Save a trained model (and its portable copy with ``--portable``) and say so.

    A network trained under torchrun is saved as one that fits in one process.
    """
    if "distributed" in model[-1].get_params(deep=False):
        model[-1].set_params(distributed=False)
    _save_model(model, args.out)
    print(f"trained {what} in {time.perf_counter() - t0:.1f} s; model saved to {args.out}")
    if args.portable:
        from sklearn_songpop.portable import save_portable

        save_portable(model, args.portable)
        print(f"portable copy (settings.json and weights.pt, no pickle) in {args.portable}")


def _save_model(pipe, out) -> None:
    from sklearn_songpop.persistence import save_model

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_model(pipe, out)


def _train_from_store(args, save: bool = True) -> int:
    """The preset's network trained on a feature store, saved behind the store's front end."""
    from sklearn_songpop.store import FeatureStore

    if args.encoder or args.cv or args.calibrate or args.conformal is not None:
        raise CLIError("--features trains the preset's network from the store; --encoder, "
                       "--cv, --calibrate and --conformal need the songs (--manifest)")
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
    if not save:
        return 0
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


def cmd_pretrain(args) -> int:
    from sklearn_songpop.pipeline import make_songpop_pipeline
    from sklearn_songpop.training import EpochProgress

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
    # a bar over the epochs, on a terminal (standard error)
    if _progress(args):
        encoder.set_params(callbacks=[*encoder.callbacks, ("progress", EpochProgress())])
    t0 = time.perf_counter()
    pipe.fit(paths)
    seconds = time.perf_counter() - t0
    _save_model(pipe, args.out)
    starts = f", the lowest loss of {encoder.n_init} starts" if encoder.n_init > 1 else ""
    print(f"pretrained an encoder on {len(paths)} songs ({encoder.max_epochs} epochs{starts}) "
          f"in {seconds:.1f} s; saved to {args.out}")
    return 0
