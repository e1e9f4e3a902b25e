"""sklearn-songpop: predict whether a song will be popular from its audio.

Data flows one way: audio -> intervals -> spectrograms -> network -> predictions.
"""

from sklearn_songpop._version import __version__
from sklearn_songpop.audio import (
    AudioError,
    AudioInfo,
    audio_duration,
    check_audio,
    load_audio,
    load_windows,
    probe_audio,
    probe_files,
)
from sklearn_songpop.baselines import BandStatistics, make_baselines
from sklearn_songpop.classifier import SpectrogramCNNClassifier
from sklearn_songpop.datasets import find_audio, load_manifest, make_songs, write_songs
from sklearn_songpop.evaluation import evaluate, leak_comparison
from sklearn_songpop.explain import explain
from sklearn_songpop.intervals import IntervalSampler, window_starts
from sklearn_songpop.model_selection import ReleaseYearSplit
from sklearn_songpop.musicnn import MusicnnEmbedding
from sklearn_songpop.musicnn_net import MusicnnNet, load_musicnn
from sklearn_songpop.nets import ContrastiveNet, PaperCNN, SongpopCNN
from sklearn_songpop.persistence import VersionMismatchWarning, load_model, save_model
from sklearn_songpop.pipeline import PRESETS, make_songpop_pipeline
from sklearn_songpop.portable import load_portable, save_portable
from sklearn_songpop.pretraining import (
    ContrastiveEncoder,
    ContrastiveLoss,
    contrastive_loss,
    load_encoder,
    make_probe,
)
from sklearn_songpop.regressor import SpectrogramCNNRegressor
from sklearn_songpop.report import render_report, write_report
from sklearn_songpop.results import EvaluationResult, RegressionResult
from sklearn_songpop.similar import SongNeighbors
from sklearn_songpop.spectrogram import SpectrogramTransformer
from sklearn_songpop.store import FeatureStore, write_features
from sklearn_songpop.training import (
    CosineSchedule,
    SongEarlyStopping,
    SongValidSplit,
    song_roc_auc,
    song_spearman,
)

__all__ = [
    "PRESETS",
    "AudioError",
    "AudioInfo",
    "BandStatistics",
    "ContrastiveEncoder",
    "ContrastiveLoss",
    "ContrastiveNet",
    "CosineSchedule",
    "EvaluationResult",
    "FeatureStore",
    "IntervalSampler",
    "MusicnnEmbedding",
    "MusicnnNet",
    "PaperCNN",
    "RegressionResult",
    "ReleaseYearSplit",
    "SongEarlyStopping",
    "SongValidSplit",
    "SongNeighbors",
    "SongpopCNN",
    "SpectrogramCNNClassifier",
    "SpectrogramCNNRegressor",
    "SpectrogramTransformer",
    "VersionMismatchWarning",
    "__version__",
    "audio_duration",
    "check_audio",
    "contrastive_loss",
    "evaluate",
    "explain",
    "find_audio",
    "load_audio",
    "load_manifest",
    "load_musicnn",
    "load_encoder",
    "load_model",
    "load_portable",
    "leak_comparison",
    "load_windows",
    "make_baselines",
    "make_probe",
    "make_songpop_pipeline",
    "make_songs",
    "probe_audio",
    "probe_files",
    "render_report",
    "save_model",
    "save_portable",
    "song_roc_auc",
    "song_spearman",
    "window_starts",
    "write_features",
    "write_report",
    "write_songs",
]
