"""The presets, as data in one table, and the function that builds a pipeline from them."""

from __future__ import annotations

import copy

from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_songpop.calibration import ArtistCalibratedClassifier
from sklearn_songpop.classifier import SpectrogramCNNClassifier
from sklearn_songpop.conformal import ConformalClassifier, ConformalRegressor
from sklearn_songpop.intervals import IntervalSampler
from sklearn_songpop.musicnn import MusicnnEmbedding
from sklearn_songpop.nets import ContrastiveNet, PaperCNN, SongpopCNN
from sklearn_songpop.pretraining import ContrastiveEncoder
from sklearn_songpop.regressor import SpectrogramCNNRegressor
from sklearn_songpop.spectrogram import SpectrogramTransformer
from sklearn_songpop.training import CosineSchedule, SongEarlyStopping, SongValidSplit

__all__ = ["PRESETS", "TASKS", "make_songpop_pipeline", "wrap_final_step"]

#: The last step of each task: its name in the pipeline and its estimator.
TASKS = {"classification": ("classifier", SpectrogramCNNClassifier),
         "regression": ("regressor", SpectrogramCNNRegressor),
         "pretraining": ("encoder", ContrastiveEncoder)}

#: The last step of the ``"musicnn"`` preset for each task: a linear model on the
#: frozen embedding.
LINEAR_HEADS = {"classification": ("classifier", LogisticRegression),
                "regression": ("regressor", RidgeCV)}

#: Every setting of each preset, by pipeline step. ``"paper"`` is the seed paper's
#: method; ``"default"`` is what we recommend; ``"musicnn"`` puts a linear model on
#: musicnn's pretrained embedding. The last step is ``"classifier"`` or
#: ``"regressor"``, after the task.
PRESETS: dict[str, dict[str, dict]] = {
    "paper": {
        "intervals": {"n_intervals": 3, "duration": 3.0, "sr": 44100, "strategy": "thirds"},
        "spectrogram": {"kind": "paper", "sr": 44100},
        "classifier": {
            "module": PaperCNN,
            "lr": 1e-4,
            "batch_size": 13,  # 39 intervals a batch; the seed used 40
            "max_epochs": 10,
            "class_weight": None,
            "train_split": None,
            "callbacks": None,
            "crop_frames": None,  # the seed trained on its three fixed intervals, unaugmented
            "freq_mask": 0.0,
            "time_mask": 0.0,
        },
        # not in the seed, which had labels only: its net and training, on a number
        "regressor": {
            "module": PaperCNN,
            "lr": 1e-4,
            "batch_size": 13,
            "max_epochs": 10,
            "train_split": None,
            "callbacks": None,
            "crop_frames": None,
            "freq_mask": 0.0,
            "time_mask": 0.0,
        },
    },
    "default": {
        # 6-second windows: each epoch trains on a fresh 3-second crop of each (130 frames)
        "intervals": {"n_intervals": 3, "duration": 6.0, "sr": 22050, "strategy": "thirds"},
        "spectrogram": {"kind": "mel", "sr": 22050, "n_mels": 64, "top_db": 80.0},
        "classifier": {
            "module": SongpopCNN,
            "lr": 1e-3,
            "batch_size": 16,
            "max_epochs": 25,
            "class_weight": "balanced",
            # targets of 0.95 and 0.05: a few dozen popular songs, chosen by a chart's
            # cut-off, should not make the network certain of any song (see the user guide)
            "criterion__label_smoothing": 0.1,
            # a validation split only where it holds 25 songs of the rarer class
            "train_split": SongValidSplit(0.2, min_songs=25, random_state=0),
            "callbacks": [("lr_schedule", CosineSchedule()),
                          ("early_stopping", SongEarlyStopping(patience=8))],
            "crop_frames": 130,
            "freq_mask": 0.15,
            "time_mask": 0.15,
        },
        "regressor": {
            "module": SongpopCNN,
            "lr": 1e-3,
            "batch_size": 16,
            "max_epochs": 25,
            # a rank correlation on 25 songs is too noisy to pick an epoch (its standard
            # error is about 0.2): split only where 100 songs can be spared
            "train_split": SongValidSplit(0.2, min_songs=100, random_state=0),
            "callbacks": [("lr_schedule", CosineSchedule()),
                          ("early_stopping", SongEarlyStopping(monitor="valid_song_rho",
                                                               patience=8))],
            "crop_frames": 130,
            "freq_mask": 0.15,
            "time_mask": 0.15,
        },
        # contrastive pretraining on unlabelled songs: the classifier's body and crops
        "encoder": {
            "module": ContrastiveNet,
            "lr": 1e-3,
            "batch_size": 32,
            "max_epochs": 40,
            "train_split": None,
            "callbacks": [("lr_schedule", CosineSchedule())],
            # positives: two crops of one 6-second interval (see ContrastiveEncoder)
            "positives": "interval",
            "crop_frames": 130,
            "freq_mask": 0.15,
            "time_mask": 0.15,
            "gain_db": 6.0,
            # two networks, the one of lower final loss kept: the seed's share of the
            # probe's spread halves for twice the time (see the user guide)
            "n_init": 2,
        },
    },
    "musicnn": {
        # musicnn's own input: 16 kHz, one 3-second patch per interval
        "intervals": {"n_intervals": 3, "duration": 3.0, "sr": 16000, "strategy": "thirds"},
        # the channels musicnn's back end reads, averaged over time: the best or near it
        # on generated songs and on real recordings (see the user guide)
        "embedding": {"output": "embedding", "layer": "mean_pool"},
        # a strong penalty: the head learns 1,506 weights from a few dozen labelled songs
        "classifier": {"C": 0.1, "class_weight": "balanced", "max_iter": 5000},
        "regressor": {"alphas": (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)},
    },
}


def make_songpop_pipeline(
    preset: str = "default",
    *,
    task: str = "classification",
    memory=None,
    random_state=None,
    n_jobs: int | None = None,
    verbose: int = 0,
    calibrate: bool | str = False,
    conformal: float | None = None,
    **params,
) -> Pipeline:
    """Build the three-step pipeline: intervals, spectrogram, then a classifier or a regressor.

    Parameters
    ----------
    preset : {"default", "paper", "musicnn"}, default="default"
        The settings of :data:`PRESETS` to start from. ``"musicnn"`` builds
        ``"intervals"``, ``"embedding"`` (a frozen
        :class:`~sklearn_songpop.MusicnnEmbedding`), ``"scale"`` and a linear
        ``"classifier"`` (logistic regression) or ``"regressor"`` (``RidgeCV``).
    task : {"classification", "regression", "pretraining"}, default="classification"
        Labels (popular or not), a number (streams, a popularity score), or
        no labels at all: the last step is a
        :class:`~sklearn_songpop.SpectrogramCNNClassifier` named
        ``"classifier"``, a :class:`~sklearn_songpop.SpectrogramCNNRegressor`
        named ``"regressor"``, or a
        :class:`~sklearn_songpop.ContrastiveEncoder` named ``"encoder"`` (the
        ``"default"`` preset only), whose ``transform`` gives song embeddings.
    memory : str, joblib.Memory or None, default=None
        Passed to :class:`~sklearn.pipeline.Pipeline`: caches the fitted
        transformers, so a grid over classifier parameters decodes and
        transforms each fold once.
    random_state : int, RandomState instance or None, default=None
        Given to the interval sampler and the network.
    n_jobs : int or None, default=None
        Given to the interval sampler and the spectrogram transformer.
    verbose : int, default=0
        Progress bars of the sampler, and skorch's epoch table when > 1.
    calibrate : bool or {"sigmoid", "isotonic"}, default=False
        Classification: wrap the last step in an
        :class:`~sklearn_songpop.ArtistCalibratedClassifier` (True is
        ``"sigmoid"``), so that its probabilities are calibrated on
        out-of-fold scores by artist. Give the artists to ``fit`` as
        ``classifier__groups``.
    conformal : float or None, default=None
        An ``alpha``: wrap the last step (after the calibration, if any) in a
        :class:`~sklearn_songpop.ConformalClassifier` or
        :class:`~sklearn_songpop.ConformalRegressor`, which holds out a quarter
        of the artists to calibrate sets or intervals at level ``1 - alpha``.
        Give the artists to ``fit`` as ``classifier__groups`` (or
        ``regressor__groups``).
    **params
        Any pipeline parameter, as for ``Pipeline.set_params``:
        ``spectrogram__n_mels=64``, ``classifier__lr=3e-4``... They are set
        before the wrapping: afterwards the network's parameters are
        ``classifier__estimator__lr`` (one ``estimator__`` per wrapper).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"intervals"``, ``"spectrogram"`` and ``"classifier"`` (or
        ``"regressor"``, or ``"encoder"``).

    Examples
    --------
    >>> pipe = make_songpop_pipeline("paper", classifier__max_epochs=3)
    >>> [name for name, _ in pipe.steps]
    ['intervals', 'spectrogram', 'classifier']
    >>> pipe.get_params()["spectrogram__kind"], pipe.get_params()["classifier__max_epochs"]
    ('paper', 3)
    >>> make_songpop_pipeline(task="regression").steps[-1][0]
    'regressor'
    >>> [name for name, _ in make_songpop_pipeline("musicnn").steps]
    ['intervals', 'embedding', 'scale', 'classifier']
    >>> pipe = make_songpop_pipeline(calibrate=True, conformal=0.1)
    >>> type(pipe[-1]).__name__, type(pipe[-1].estimator).__name__
    ('ConformalClassifier', 'ArtistCalibratedClassifier')
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    step, estimator = TASKS[task]
    if step not in PRESETS[preset]:
        raise ValueError(f"the {preset!r} preset has no settings for task={task!r}")
    settings = copy.deepcopy(PRESETS[preset])
    if (calibrate or conformal is not None) and task == "pretraining":
        raise ValueError("calibrate and conformal apply to classification and regression, "
                         "not task='pretraining'")
    if "embedding" in settings:
        pipe = _embedding_pipeline(settings, task, memory, random_state, n_jobs, verbose,
                                   params)
    else:
        pipe = _spectrogram_pipeline(settings, step, estimator, memory, random_state, n_jobs,
                                     verbose, params)
    if not calibrate and conformal is None:
        return pipe
    return wrap_final_step(pipe, calibrate=calibrate, conformal=conformal,
                           random_state=random_state)


def wrap_final_step(pipe: Pipeline, *, calibrate: bool | str = False,
                    conformal: float | None = None, random_state=None) -> Pipeline:
    """Calibrate the last step's probabilities by artist, or make it conformal, or both.

    Parameters
    ----------
    pipe : Pipeline
        Ending in a ``"classifier"`` or a ``"regressor"`` step; changed in place.
    calibrate : bool or {"sigmoid", "isotonic"}, default=False
        See :func:`make_songpop_pipeline`.
    conformal : float or None, default=None
        See :func:`make_songpop_pipeline`.
    random_state : int, RandomState or None, default=None
        Shuffles the artists into folds and calibration songs.

    Returns
    -------
    Pipeline
        ``pipe``; fit it with ``<step>__groups=artists``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> pipe = wrap_final_step(Pipeline([("classifier", LogisticRegression())]), calibrate=True)
    >>> type(pipe[-1]).__name__
    'ArtistCalibratedClassifier'
    """
    name, last = pipe.steps[-1]
    if name not in ("classifier", "regressor"):
        raise ValueError(f"the pipeline ends in {name!r}; calibration and conformal "
                         "prediction wrap a 'classifier' or a 'regressor' step")
    if calibrate and name != "classifier":
        raise ValueError("calibrate applies to a classifier, and the pipeline ends in a "
                         "regressor")
    name, last = pipe.steps[-1]
    if calibrate:
        method = "sigmoid" if calibrate is True else calibrate
        last = ArtistCalibratedClassifier(last, method=method, random_state=random_state)
    if conformal is not None:
        wrapper = ConformalClassifier if name == "classifier" else ConformalRegressor
        last = wrapper(last, alpha=conformal, random_state=random_state)
    pipe.steps[-1] = (name, last)
    return pipe


def _spectrogram_pipeline(settings: dict, step: str, estimator, memory, random_state, n_jobs,
                          verbose, params: dict) -> Pipeline:
    """Intervals, spectrograms and a network."""
    pipe = Pipeline(
        [
            ("intervals", IntervalSampler(
                **settings["intervals"], random_state=random_state, n_jobs=n_jobs,
                verbose=verbose,
            )),
            ("spectrogram", SpectrogramTransformer(**settings["spectrogram"], n_jobs=n_jobs)),
            (step, estimator(**settings[step], random_state=random_state,
                             verbose=int(verbose > 1))),
        ],
        memory=memory,
    )
    return pipe.set_params(**params)


def _embedding_pipeline(settings: dict, task: str, memory, random_state, n_jobs, verbose,
                        params: dict) -> Pipeline:
    """Intervals, a frozen embedding, standardisation and a linear head."""
    step, head = LINEAR_HEADS[task]
    extra = {"random_state": random_state} if head is LogisticRegression else {}
    pipe = Pipeline(
        [
            ("intervals", IntervalSampler(
                **settings["intervals"], random_state=random_state, n_jobs=n_jobs,
                verbose=verbose,
            )),
            ("embedding", MusicnnEmbedding(**settings["embedding"], verbose=verbose)),
            ("scale", StandardScaler()),
            (step, head(**settings[step], **extra)),
        ],
        memory=memory,
    )
    return pipe.set_params(**params)
