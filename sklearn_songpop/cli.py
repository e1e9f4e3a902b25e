"""The ``songpop`` command: argument parsing and one-line errors.

Each command's work is in :mod:`sklearn_songpop.commands` (and, for the
commands that train, :mod:`sklearn_songpop.training_commands`), which call
the package; nothing here computes.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from sklearn_songpop._allocator import STEADY_MALLOC, steady_allocator
from sklearn_songpop.commands import (
    CLIError,
    cmd_demo,
    cmd_evaluate,
    cmd_explain,
    cmd_features,
    cmd_predict,
    cmd_scan,
    cmd_similar,
    cmd_tags,
)
from sklearn_songpop.training_commands import cmd_pretrain, cmd_train

__all__ = ["STEADY_MALLOC", "build_parser", "main", "steady_allocator"]

_PICKLE_WARNING = (
    "A model file is a pickle: loading it runs code stored in it. Load only models "
    "you made or trust."
)

_DEVICE_HELP = "cpu, cuda, or auto (a GPU when there is one)"


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, where it has one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, False, []) or "default" in text:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``songpop``.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="songpop", description="Predict song popularity from audio.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show progress and, on errors, the traceback")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or lines, even on a terminal")
    sub = parser.add_subparsers(dest="command", required=True)

    def manifest_args(p, required=False, labelled=True):
        if not labelled:  # predict and scan read the paths only
            p.add_argument("--manifest", help="CSV with a path column (paths relative to it; "
                           "other columns are not read)")
            return
        p.add_argument("--manifest", required=required,
                       help="CSV with a path and a label column (paths relative to it)")
        p.add_argument("--label-column", default="label",
                       help="labels, or numbers (e.g. popularity) for a regression")
        p.add_argument("--group-column", default="artist",
                       help="column of artists for group-aware CV (used when present)")

    def on_error_arg(p, what="a song that cannot be read",
                     outcome="leave it out and list it on standard error"):
        p.add_argument("--on-error", choices=["stop", "skip"], default="stop",
                       help=f"{what}: stop, or {outcome}")

    def model_args(p):
        p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                       help="a pipeline parameter, as for Pipeline.set_params (repeatable): "
                       "--set classifier__max_epochs=5 --set spectrogram__n_mels=64")
        p.add_argument("--device", default="auto", help=_DEVICE_HELP)

    def task_args(p):
        p.add_argument("--task", choices=["auto", "classification", "regression"],
                       default="auto", help="auto: regression when the labels are "
                       "continuous numbers, else classification (a few distinct integers "
                       "stay classes)")
        p.add_argument("--time-column", help="column of release years: also score the "
                       "models forward in time (train on past years, test on the next)")
        p.add_argument("--positive-class", metavar="LABEL",
                       help="the label that counts as a hit, whose score is reported "
                       "(default: the last label in sorted order, 1 for 0/1 labels)")

    p = sub.add_parser("demo", help="generate songs, cross-validate, report (a few minutes)")
    p.add_argument("--n-songs", type=int, default=200, help="generated songs to evaluate on")
    p.add_argument("--cache", default=".songpop_cache", help="folder for the generated songs")
    p.add_argument("--out", default="songpop_output", help="folder for report, figures, model")
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the interval sampler and the networks")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="fit a pipeline on a manifest (or a feature store) and "
                       "save it")
    manifest_args(p)
    p.add_argument("--features", metavar="STORE", help="train on the spectrograms of a "
                   "store made by songpop features instead of decoding the songs (the "
                   "store's labels; its settings must be the preset's)")
    p.add_argument("--preset", choices=["default", "paper", "musicnn"], default="default",
                   help="default: a CNN trained on the songs; paper: the seed paper's; "
                   "musicnn: a linear model on musicnn's pretrained embedding (few labels)")
    p.add_argument("--out", required=True, help="model file (.joblib)")
    p.add_argument("--cv", type=int, default=0, help="also cross-validate with this many folds")
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the interval sampler and the networks")
    p.add_argument("--portable", metavar="DIR", help="also save the model without pickle "
                   "(settings.json and weights.pt) in this folder")
    task_args(p)
    model_args(p)
    p.add_argument("--encoder", help="start from an encoder made by songpop pretrain "
                   "(a pickle: load only files you made or trust)")
    p.add_argument("--encoder-mode", choices=["probe", "finetune"], default="probe",
                   help="probe: a linear model on the encoder's song embeddings (the "
                   "encoder stays as it is); finetune: the preset's network, its body "
                   "started from the encoder's")
    p.add_argument("--calibrate", nargs="?", const="sigmoid", choices=["sigmoid", "isotonic"],
                   help="calibrate the probabilities on out-of-fold scores by artist "
                   "(5 more fits; sigmoid when given alone, isotonic only with thousands "
                   "of songs); predict then writes p_<class>, not score_<class>")
    on_error_arg(p)
    p.add_argument("--conformal", type=float, metavar="ALPHA",
                   help="hold out a quarter of the artists to calibrate conformal sets or "
                   "intervals, so that predict --alpha can give them (the smallest alpha "
                   "predict can use is about 1/(held-out artists + 1); ALPHA is checked now)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("pretrain", help="learn song embeddings from unlabelled songs "
                       "(contrastive) and save the encoder")
    p.add_argument("--songs", required=True, help="a folder of audio files, or a CSV "
                   "manifest with a path column (labels are not read)")
    p.add_argument("--out", required=True, help="encoder file (.joblib)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the preset's)")
    p.add_argument("--n-init", type=int, help="networks trained from different seeds, "
                   "the one of lowest final loss kept (default: the preset's, 2)")
    p.add_argument("--device", default="auto", help=_DEVICE_HELP)
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the interval sampler and the networks")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("similar", help="list the catalogue songs that sound closest to "
                       "each given song", description="List the catalogue songs closest "
                       "to each given song in the encoder's embedding space (cosine "
                       "distance). " + _PICKLE_WARNING)
    p.add_argument("--encoder", required=True, help="encoder file from songpop pretrain")
    p.add_argument("--catalog", required=True, help="a folder of audio files, or a CSV "
                   "manifest with a path column")
    p.add_argument("files", nargs="+", help="audio files or folders to find songs like")
    p.add_argument("-k", type=int, default=10, help="songs to list per query")
    p.add_argument("--out", help="CSV file (default: standard output)")
    on_error_arg(p, "a song (query or catalogue) that cannot be read")
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser("tags", help="musicnn's most likely tags of each song (genres, "
                       "decades, moods), a first check of what it hears")
    p.add_argument("files", nargs="+", help="audio files or folders")
    p.add_argument("--top", type=int, default=5, help="tags to list per song")
    p.add_argument("--device", default="auto", help=_DEVICE_HELP)
    p.add_argument("--out", help="CSV file (default: standard output)")
    p.set_defaults(func=cmd_tags)

    p = sub.add_parser("predict", help="score songs with a saved model",
                       description="Score songs with a saved model. " + _PICKLE_WARNING)
    p.add_argument("--model", required=True,
                   help="model file from songpop train (a pickle: see above)")
    p.add_argument("files", nargs="*", help="audio files or folders")
    manifest_args(p, labelled=False)
    p.add_argument("--out", help="CSV file (default: standard output)")
    p.add_argument("--intervals", action="store_true",
                   help="add the score (or the predicted value) of each interval")
    p.add_argument("--alpha", type=float,
                   help="add the conformal set of labels (column set) or the interval "
                   "(lower, upper) that holds a new artist's truth with probability 1 - "
                   "alpha; the model must be trained with --conformal")
    on_error_arg(p, outcome="list it on standard error and give it a row with its "
                 "problem and no scores")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("explain", help="which parts of each song's spectrogram made its "
                       "score, and how unlike the training songs it is: report.html",
                       description="Explain songs with a saved model: attributions over "
                       "each interval's spectrogram, the interval timeline and the novelty, "
                       "in DIR/report.html and DIR/explain.json. " + _PICKLE_WARNING)
    p.add_argument("--model", required=True, help="model file from songpop train")
    p.add_argument("files", nargs="+", help="audio files or folders")
    p.add_argument("--out", required=True, help="folder for report.html and explain.json")
    on_error_arg(p)
    p.add_argument("--method", choices=["occlusion", "integrated_gradients",
                                        "input_x_gradient"], default="occlusion",
                   help="occlusion (default) hides one patch at a time: the faithful one")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("evaluate", help="cross-validate a preset and the baselines")
    manifest_args(p, required=True)
    p.add_argument("--preset", choices=["default", "paper", "musicnn"], default="default",
                   help="default: a CNN trained on the songs; paper: the seed paper's; "
                   "musicnn: a linear model on musicnn's pretrained embedding (few labels)")
    p.add_argument("--cv", type=int, default=5,
                   help="folds of the cross-validation by artist")
    p.add_argument("--out", help="folder for report.html, report.json and figures")
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the interval sampler and the networks")
    task_args(p)
    p.add_argument("--time-splits", type=int, default=3,
                   help="test years of the forward-in-time evaluation")
    model_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("features", help="decode songs and write their spectrograms to an "
                       "on-disk store, chunk by chunk (run it again to finish a killed run)")
    manifest_args(p, required=True)
    p.add_argument("--preset", choices=["default", "paper"], default="default",
                   help="whose spectrograms to store (the musicnn preset stores none)")
    p.add_argument("--out", required=True, help="the store's folder (Zarr)")
    p.add_argument("--chunk-songs", type=int, default=64,
                   help="songs per chunk: what memory holds at once")
    p.add_argument("--compression", choices=["none", "lz4", "zstd"], default="none",
                   help="none trains fastest (the chunks are mapped into memory); lz4 "
                        "makes the store about 1.4 times smaller, for slow or shared disks")
    p.add_argument("--on-error", choices=["stop", "skip"], default="stop",
                   help="a song that fails to decode: stop, or skip it and list it")
    p.add_argument("--random-state", type=int, default=0,
                   help="seed of the interval sampler and the networks")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                   help="a front-end parameter (repeatable): --set spectrogram__n_mels=96")
    p.add_argument("--device", default="auto", help=_DEVICE_HELP)
    p.add_argument("--n-jobs", type=int, default=None,
                   help="chunks computed at once (-1: every core); each job decodes its "
                   "songs and writes their chunk itself")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:8786): its workers compute and write "
                   "the chunks, and must see --out (a shared disk)")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("scan", help="probe every file and decode its last second; exit "
                                    "status 1 when any is bad")
    p.add_argument("dir", nargs="?", help="folder of audio files")
    manifest_args(p, labelled=False)
    p.add_argument("--preset", choices=["default", "paper", "musicnn"], default="default",
                   help="flag songs shorter than one of this preset's intervals")
    p.set_defaults(func=cmd_scan)
    parser.formatter_class = _HelpWithDefaults
    for command in sub.choices.values():  # also after the command: songpop train -v ...
        command.formatter_class = _HelpWithDefaults
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="show progress and, on errors, the traceback")
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="no progress bars or lines, even on a terminal")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``songpop``; errors become one line on stderr and a non-zero status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("songpop: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, OSError, ImportError, RuntimeError) as exc:
        if args.verbose:
            traceback.print_exc()
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"songpop {args.command}: error: {message}", file=sys.stderr)
        return 1


def entry_point() -> int:  # pragma: no cover - the installed ``songpop`` script
    """The ``songpop`` command: :func:`steady_allocator`, then :func:`main`.

    Returns
    -------
    int
        The exit status.
    """
    steady_allocator()
    return main()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(entry_point())
