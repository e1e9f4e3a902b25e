"""SupervisedSongNet: a song network that trains on each song's target.

Between :class:`~sklearn_songpop.songnet.SongNet` (no targets) and the
classifier and the regressor: targets come from ``y`` (or a feature store's
own labels), every interval trains with its song's target, and the loss is
taken over the intervals. A subclass says what a target is (``_check_y``)
and how the criterion takes it (``_loss_target``).
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.dataset import get_len
from skorch.utils import to_tensor

from sklearn_songpop._json import to_json_types
from sklearn_songpop.songnet import SongNet
from sklearn_songpop.store import StoreDataset

__all__ = ["SupervisedSongNet"]

#: The recipe's parameters a portable copy keeps: ``crop_frames`` shapes
#: prediction; the augmentations only matter when fitting again.
_PORTABLE_RECIPE = ("crop_frames", "freq_mask", "time_mask", "n_masks", "gain_db", "filter_db",
                    "mixup")


class SupervisedSongNet(SongNet):
    """The song networks that learn from targets; put it before a skorch net class.

    Parameters
    ----------
    module, criterion, **kwargs
        As :class:`~sklearn_songpop.songnet.SongNet`.

    Examples
    --------
    >>> from sklearn_songpop import SpectrogramCNNRegressor
    >>> issubclass(SpectrogramCNNRegressor, SupervisedSongNet)
    True
    """

    def _check_y(self, y, n: int, reset: bool, classes=None):
        """``y`` as the network trains on it; ``reset`` learns the target's state."""
        raise NotImplementedError

    def _n_outputs(self) -> int:
        """Outputs of the network's last layer, once the targets are known."""
        raise NotImplementedError

    def _target_state(self) -> dict:
        """What a portable copy keeps of the fitted targets, as JSON types."""
        raise NotImplementedError

    def _set_target_state(self, state: dict) -> None:
        """Restore what :meth:`_target_state` kept."""
        raise NotImplementedError

    def _module_defaults(self) -> dict:
        return {**super()._module_defaults(), "n_classes": self._n_outputs()}

    def _targets(self, X, y, *, reset: bool, classes=None):
        """Checked targets (``_check_y``): ``y``, or a store's labels of its written songs.

        A store's dataset then serves them with its songs.
        """
        if isinstance(X, StoreDataset) and y is None:
            if X.store.y is None:
                raise ValueError(f"{X.store.path}: the store holds no labels; pass y")
            y = np.asarray(X.store.y)[X.rows]
        y_fit = self._check_y(y, get_len(X), reset=reset, classes=classes)
        if isinstance(X, StoreDataset):
            X.y = y_fit
        return y_fit

    def interval_predictions(self, x: torch.Tensor) -> torch.Tensor:
        """Each interval's prediction for a batch of songs, as a differentiable tensor.

        What :meth:`infer` gives, turned into the target's units: a
        classifier's probabilities (skorch's ``predict_nonlinearity``), a
        regressor's numbers in the units of its training targets. Gradient
        attributions (:func:`~sklearn_songpop.explain`) differentiate it.

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)

        Returns
        -------
        Tensor of shape (batch, k, n_outputs)
        """
        return self._get_predict_nonlinearity()(self.infer(x))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Loss over every interval, each with its song's target.

        Parameters
        ----------
        y_pred : Tensor of shape (batch, k, n_outputs)
        y_true : Tensor of shape (batch,) or (batch, n_outputs)
        X : ignored
        training : bool

        Returns
        -------
        Tensor
            The scalar loss.
        """
        y_true = to_tensor(y_true, device=self._device())
        if y_pred.ndim == 3:
            k = y_pred.shape[1]
            y_pred = y_pred.reshape(-1, y_pred.shape[-1])
            y_true = y_true.repeat_interleave(k, dim=0)
        return self.criterion_(y_pred, self._loss_target(y_true, y_pred))

    def _loss_target(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """The interval targets in the form the criterion takes."""
        return y_true

    # ------------------------------------------------------------------ a portable copy
    def get_portable_state(self) -> dict:
        """What a copy without pickle needs besides the network's weights.

        Returns
        -------
        dict
            JSON types: the module's class name and arguments, the input
            shape, the prediction settings and the recipe, and the fitted
            targets' state (the classes, or the regressor's shift and scale).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_songpop import SpectrogramCNNRegressor
        >>> X = np.zeros((4, 2, 8, 10), np.float32)
        >>> reg = SpectrogramCNNRegressor(max_epochs=0).fit(X, [1.0, 2.0, 3.0, 4.0])
        >>> state = reg.get_portable_state()
        >>> state["module"], state["input_shape"], state["target"]
        ('SongpopCNN', [2, 8, 10], {'mean': 2.5, 'scale': 1.118033988749895})
        """
        self.check_is_fitted()
        module = self.module if isinstance(self.module, type) else type(self.module)
        return {
            "module": module.__name__,
            "module_kwargs": to_json_types(self.get_module_params()),
            "input_shape": to_json_types(self.input_shape_),
            "n_features_in": int(self.n_features_in_),
            "fast_path": to_json_types(self.fast_path),
            "batch_size": int(self.batch_size),
            "recipe": {name: to_json_types(getattr(self, name)) for name in _PORTABLE_RECIPE},
            **self._target_state(),
        }

    @classmethod
    def from_portable_state(cls, state: dict, module: type):
        """An initialised network built from :meth:`get_portable_state`'s dict.

        Parameters
        ----------
        state : dict
            As :meth:`get_portable_state` returns it (or read back from JSON).
        module : torch.nn.Module class
            The class ``state["module"]`` names.

        Returns
        -------
        estimator
            Ready for the weights (``module_.load_state_dict``); no training
            history, callbacks or validation split, and no novelty reference.
        """
        kwargs = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in state["module_kwargs"].items()}
        net = cls(module, fast_path=state["fast_path"], batch_size=state["batch_size"],
                  **state.get("recipe", {}), **{f"module__{k}": v for k, v in kwargs.items()})
        net._set_target_state(state)
        net.input_shape_ = tuple(state["input_shape"])
        net.n_features_in_ = state["n_features_in"]
        net.novelty_reference_ = None
        return net.initialize()
