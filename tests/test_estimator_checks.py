"""scikit-learn's estimator checks over every estimator of the package.

Each expected failure carries its reason; everything else must pass. MusicnnEmbedding's
checks, which are slow, are in test_musicnn.py, so they run beside these on another worker.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_songpop import (
    BandStatistics,
    ContrastiveEncoder,
    IntervalSampler,
    SpectrogramCNNClassifier,
    SpectrogramCNNRegressor,
    SpectrogramTransformer,
)

_ANY_LENGTH = (
    "{what} of any length are valid input: the parameters, not the input's length, fix "
    "the output, so transform does not insist on the number of samples seen in fit"
)

_SAMPLER = {
    "check_n_features_in_after_fitting": _ANY_LENGTH.format(what="songs"),
    "check_transformer_general": _ANY_LENGTH.format(what="songs"),
    "check_transformer_general(readonly_memmap=True)": _ANY_LENGTH.format(what="songs"),
}

_SPECTROGRAM = {
    "check_n_features_in_after_fitting": _ANY_LENGTH.format(what="clips"),
    "check_transformer_general": _ANY_LENGTH.format(what="clips"),
    "check_transformer_general(readonly_memmap=True)": _ANY_LENGTH.format(what="clips"),
}

_SKORCH_SET_PARAMS = (
    "skorch's set_params acts at once on callbacks and on parameters with a prefix "
    "(it re-initialises components), so odd values raise there, not in fit"
)

_NETWORK = {
    "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets history_, "
                                       "initialized_ and virtual_params_",
    "check_do_not_raise_errors_in_init_or_set_params": _SKORCH_SET_PARAMS,
    "check_set_params": _SKORCH_SET_PARAMS,
}


def _expected(estimator):
    return {
        IntervalSampler: _SAMPLER, SpectrogramTransformer: _SPECTROGRAM,
        SpectrogramCNNClassifier: _NETWORK, SpectrogramCNNRegressor: _NETWORK,
        ContrastiveEncoder: _NETWORK,
    }.get(type(estimator), {})


@parametrize_with_checks(
    [
        IntervalSampler(n_intervals=2, duration=2, sr=1, random_state=0),
        SpectrogramTransformer(kind="stft", n_fft=4, hop_length=2),
        BandStatistics(),
        # a few epochs on large batches pass the checks' small problems (accuracy above
        # 0.83 on blobs) with and without the bfloat16 fast path; learning quality is
        # measured in the benchmarks
        SpectrogramCNNClassifier(max_epochs=5, lr=0.05, batch_size=64, random_state=0),
        SpectrogramCNNRegressor(max_epochs=10, lr=0.02, batch_size=64, random_state=0),
        # one interval per row here: its two views are crops of it
        ContrastiveEncoder(max_epochs=3, embedding_dim=4, crop_frames=2, random_state=0),
    ],
    expected_failed_checks=_expected,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [
        # the default preset's recipe: crops of every interval and masks (callbacks hold
        # their own state in skorch, so the schedule is tested in test_training.py)
        SpectrogramCNNClassifier(max_epochs=5, lr=0.02, batch_size=64, random_state=0,
                                 crop_frames=2, freq_mask=0.15, time_mask=0.15),
        SpectrogramCNNRegressor(max_epochs=5, lr=0.02, batch_size=64, random_state=0,
                                crop_frames=2, freq_mask=0.15, time_mask=0.15),
    ],
    expected_failed_checks=_expected,
)
def test_the_recipe_is_sklearn_compatible(estimator, check):
    check(estimator)

