"""sklearn-songpop: predict whether a song will be popular from its audio.

Data flows one way: audio -> intervals -> spectrograms -> network -> predictions.

The public names are imported on first use, so that ``import sklearn_songpop`` (and the
``songpop`` command's ``--help``) does not load torch before it is needed.
"""

from __future__ import annotations

import importlib

from sklearn_songpop._version import __version__

#: Each public name and the module that defines it.
_EXPORTS = {
    "ArtistCalibratedClassifier": "calibration",
    "ConformalClassifier": "conformal",
    "ConformalRegressor": "conformal",
    "audio_duration": "audio",
    "AudioError": "audio",
    "AudioInfo": "audio",
    "BandStatistics": "baselines",
    "check_audio": "audio",
    "contrastive_loss": "pretraining",
    "ContrastiveEncoder": "pretraining",
    "ContrastiveLoss": "pretraining",
    "ContrastiveNet": "nets",
    "CosineSchedule": "training",
    "evaluate": "evaluation",
    "EvaluationResult": "results",
    "explain": "explain",
    "FeatureStore": "store",
    "find_audio": "datasets",
    "IntervalSampler": "intervals",
    "leak_comparison": "evaluation",
    "load_audio": "audio",
    "load_encoder": "pretraining",
    "load_manifest": "datasets",
    "load_model": "persistence",
    "load_musicnn": "musicnn_net",
    "load_portable": "portable",
    "load_windows": "audio",
    "make_baselines": "baselines",
    "make_probe": "pretraining",
    "make_songpop_pipeline": "pipeline",
    "make_songs": "datasets",
    "MusicnnEmbedding": "musicnn",
    "MusicnnNet": "musicnn_net",
    "PaperCNN": "nets",
    "predict_table": "prediction",
    "PRESETS": "pipeline",
    "probe_audio": "audio",
    "probe_files": "audio",
    "RegressionResult": "results",
    "ReleaseYearSplit": "model_selection",
    "render_report": "report",
    "save_model": "persistence",
    "save_portable": "portable",
    "song_roc_auc": "training",
    "song_spearman": "training",
    "SongEarlyStopping": "training",
    "SongNeighbors": "similar",
    "SongpopCNN": "nets",
    "SongValidSplit": "training",
    "SpectrogramCNNClassifier": "classifier",
    "SpectrogramCNNRegressor": "regressor",
    "SpectrogramTransformer": "spectrogram",
    "VersionMismatchWarning": "persistence",
    "window_starts": "intervals",
    "write_features": "store",
    "write_report": "report",
    "write_songs": "datasets",
}

__all__ = [
    "PRESETS",
    "ArtistCalibratedClassifier",
    "AudioError",
    "AudioInfo",
    "BandStatistics",
    "ConformalClassifier",
    "ConformalRegressor",
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
    "predict_table",
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


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sklearn_songpop' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sklearn_songpop.{module}"), name)
    globals()[name] = value  # the next access does not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
