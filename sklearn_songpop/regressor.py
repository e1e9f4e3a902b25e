"""SpectrogramCNNRegressor: a skorch regressor whose rows are songs.

Popularity as a number (streams, play counts, a 0-100 score): every interval
trains with its song's number, and a song's prediction is the mean of its
intervals' predictions. The machinery it shares with the classifier lives in
:mod:`sklearn_songpop.songnet` and :mod:`sklearn_songpop.supervised`; this
module adds what is about numbers.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d
from skorch import NeuralNetRegressor
from skorch.callbacks import EpochScoring

from sklearn_songpop._docstrings import shared_docstring
from sklearn_songpop.nets import SongpopCNN
from sklearn_songpop.supervised import SupervisedSongNet
from sklearn_songpop.training import song_spearman

__all__ = ["SpectrogramCNNRegressor"]


class SpectrogramCNNRegressor(SupervisedSongNet, NeuralNetRegressor):
    """A skorch CNN regressor for songs given as stacks of spectrograms.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=SongpopCNN
        The network; it reads ``(batch, 1, n_bins, n_frames)`` and returns
        ``(batch, 1)``. When it is a class whose constructor takes
        ``n_classes`` (its number of outputs) or ``input_shape``, those are
        filled in (1, and the data's) unless given as ``module__...``.
    criterion : torch loss class, default=torch.nn.MSELoss
        Loss on the output of each interval, against the song's (standardised)
        target.
    standardize_target : bool, default=True
        Train on ``(y - mean) / std`` of the training targets and undo it at
        prediction, so the learning rate suits targets of any scale (play
        counts or a 0-100 score). For a skewed target such as stream counts,
        wrap the estimator (or the pipeline) in scikit-learn's
        ``TransformedTargetRegressor(func=np.log1p, inverse_func=np.expm1)``.
    {shared}

    Attributes
    ----------
    y_mean_, y_scale_ : float
        The shift and the scale of the training targets (0 and 1 without
        ``standardize_target``).
    {shared_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 3, 16, 16)).astype("float32")
    >>> y = 50.0 + 10.0 * X[:, :, :4].mean(axis=(1, 2, 3))
    >>> reg = SpectrogramCNNRegressor(max_epochs=2, random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape, reg.predict_interval(X[:2]).shape
    ((2,), (2, 3))
    """

    _parameter_constraints: dict = {
        **SupervisedSongNet._parameter_constraints,
        "standardize_target": ["boolean"],
    }

    def __init__(
        self,
        module=SongpopCNN,
        *,
        criterion=torch.nn.MSELoss,
        standardize_target: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(module, criterion=criterion, **kwargs)
        self.standardize_target = standardize_target

    @property
    def _default_callbacks(self):
        # recorded whenever there is a validation split; SongEarlyStopping can watch it
        return [*super()._default_callbacks, ("valid_song_rho", EpochScoring(
            song_spearman, name="valid_song_rho", lower_is_better=False))]

    def _n_outputs(self) -> int:
        return 1

    def _target_state(self) -> dict:
        return {"target": {"mean": float(self.y_mean_), "scale": float(self.y_scale_)}}

    def _set_target_state(self, state: dict) -> None:
        self.y_mean_, self.y_scale_ = state["target"]["mean"], state["target"]["scale"]

    def _loss_target(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return y_true.reshape(y_pred.shape).to(y_pred.dtype)

    def _check_y(self, y, n: int, reset: bool, classes=None) -> np.ndarray:
        """Standardised float32 targets; on ``reset``, learn the shift and the scale."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = column_or_1d(y, warn=True)
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        check_consistent_length(np.empty(n), y)
        if reset:
            mean, scale = (float(y.mean()), float(y.std())) if self.standardize_target \
                else (0.0, 1.0)
            self.y_mean_, self.y_scale_ = mean, scale if scale > 0 else 1.0
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32)

    def interval_predictions(self, x: torch.Tensor) -> torch.Tensor:
        """Each interval's prediction, in the units of the training targets, as a tensor.

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)

        Returns
        -------
        Tensor of shape (batch, k, 1)
        """
        return self.infer(x) * self.y_scale_ + self.y_mean_

    def predict_interval(self, X) -> np.ndarray:
        """The prediction for every interval of every song.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs, k)
            In the units of the training targets.
        """
        out = self._interval_outputs(X)[..., 0].astype(np.float64)
        return out * self.y_scale_ + self.y_mean_

    def predict(self, X) -> np.ndarray:
        """The prediction for each song: the mean over its intervals.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs,)
        """
        return self.predict_interval(X).mean(axis=1)

    @available_if(lambda self: False)
    def predict_proba(self, X):  # pragma: no cover - never available
        """Not available: a regressor has no probabilities (skorch's raw output is
        :meth:`predict_interval`, in the target's units)."""
        raise AttributeError("predict_proba")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


SpectrogramCNNRegressor.__doc__ = shared_docstring(SpectrogramCNNRegressor.__doc__)
