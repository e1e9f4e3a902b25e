"""SpectrogramCNNClassifier: a skorch classifier whose rows are songs.

Each row of ``X`` is one song holding ``k`` spectrograms ``(k, n_bins,
n_frames)``. The network trains on every interval, each carrying its song's
label, and a song's prediction is the mean of its intervals' probabilities.
Because rows stay songs, any splitter (skorch's internal validation split
included) keeps a song's intervals together. The machinery it shares with the
regressor lives in :mod:`sklearn_songpop.songnet` and
:mod:`sklearn_songpop.supervised`; this module adds what is about classes.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring

from sklearn_songpop._device import resolve_device
from sklearn_songpop._docstrings import shared_docstring
from sklearn_songpop._json import to_json_types
from sklearn_songpop.nets import SongpopCNN
from sklearn_songpop.supervised import SupervisedSongNet
from sklearn_songpop.training import song_roc_auc

__all__ = ["SpectrogramCNNClassifier", "resolve_device"]


def _encoded_accuracy(net, X, y) -> float:
    """Song-level accuracy on encoded labels, for skorch's ``valid_acc``."""
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == np.asarray(y)))


class SpectrogramCNNClassifier(SupervisedSongNet, NeuralNetClassifier):
    """A skorch CNN classifier for songs given as stacks of spectrograms.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=SongpopCNN
        The network; it reads ``(batch, 1, n_bins, n_frames)`` and returns
        logits. When it is a class whose constructor takes ``n_classes`` or
        ``input_shape``, those are filled from the data unless given as
        ``module__n_classes`` / ``module__input_shape``.
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        Loss on the logits of each interval.
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss; ``"balanced"`` weighs them by
        ``n_samples / (n_classes * count)``, as in scikit-learn.
    {shared}

    Attributes
    ----------
    classes_ : ndarray
        The class labels, as given in ``y``.
    class_weight_ : ndarray or None
        The loss weight of each class, in the order of ``classes_``.
    {shared_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 3, 16, 16)).astype("float32")
    >>> y = np.array(["hit", "miss"] * 10)
    >>> clf = SpectrogramCNNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).tolist() in (["hit", "hit"], ["hit", "miss"], ["miss", "hit"],
    ...                                 ["miss", "miss"])
    True
    >>> clf.predict_interval_proba(X[:2]).shape
    (2, 3, 2)
    """

    _parameter_constraints: dict = {
        **SupervisedSongNet._parameter_constraints,
        "class_weight": [None, StrOptions({"balanced"}), dict],
    }

    def __init__(
        self,
        module=SongpopCNN,
        *,
        criterion=torch.nn.CrossEntropyLoss,
        class_weight=None,
        **kwargs,
    ) -> None:
        super().__init__(module, criterion=criterion, **kwargs)
        self.class_weight = class_weight

    def __setstate__(self, state):
        reference = state.get("novelty_reference_")
        if reference is not None and "space" not in reference:
            # kept before December 2026 from the softmax of the embeddings: new songs too
            reference["space"] = "softmax"
        super().__setstate__(state)

    # ------------------------------------------------------------------ skorch hooks
    @property
    def _default_callbacks(self):
        callbacks = []
        for name, cb in super()._default_callbacks:
            if name == "valid_acc":  # compare encoded labels, not the user's classes
                cb = EpochScoring(_encoded_accuracy, name="valid_acc", lower_is_better=False)
            callbacks.append((name, cb))
        # recorded whenever there is a validation split; SongEarlyStopping watches it
        callbacks.append(("valid_song_auc", EpochScoring(
            song_roc_auc, name="valid_song_auc", lower_is_better=False)))
        return callbacks

    @property
    def classes_(self) -> np.ndarray:
        try:
            return self.label_encoder_.classes_
        except AttributeError as exc:
            raise AttributeError(
                f"{type(self).__name__} is not fitted yet: it has no classes_"
            ) from exc

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _target_state(self) -> dict:
        return {"classes": to_json_types(self.classes_.tolist())}

    def _set_target_state(self, state: dict) -> None:
        self.label_encoder_ = LabelEncoder()
        self.label_encoder_.classes_ = np.asarray(state["classes"])
        self.class_weight_ = None  # weighs the loss only: a copy that trains again sets it

    def _mixup_classes(self) -> int:
        return len(self.classes_)

    def _combine_crops(self, outputs: torch.Tensor) -> torch.Tensor:
        """The log of the mean of the crops' probabilities, which a softmax turns back."""
        log_p = torch.log_softmax(outputs, dim=-1)
        return torch.logsumexp(log_p, dim=2) - np.log(outputs.shape[2])

    def initialize_criterion(self):
        """Instantiate the loss, with the class weights when there are any."""
        kwargs = self.get_params_for("criterion")
        weights = getattr(self, "class_weight_", None)
        if weights is not None and "weight" not in kwargs:
            kwargs["weight"] = torch.as_tensor(weights, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        """skorch's train/validation split, with a clear error when it cannot stratify."""
        try:
            return super().get_split_datasets(X, y, **fit_params)
        except ValueError as exc:
            if "least populated class" not in str(exc):
                raise
            raise ValueError(
                "the song-level validation split (train_split) needs at least 2 songs of "
                f"each class among the training songs: {exc} Give more songs, or pass "
                "train_split=None (classifier__train_split=None in a pipeline) and no "
                "early stopping"
            ) from exc

    def _check_y(self, y, n: int, reset: bool, classes=None) -> np.ndarray:
        """Encoded labels; on ``reset``, learn the classes (from ``classes`` if given) and
        the class weights."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n), y)
        check_classification_targets(y)
        if reset:
            encoder = LabelEncoder()
            if self.classes is not None:
                encoder.fit(np.asarray(self.classes))
            else:
                encoder.fit(y if classes is None else np.asarray(classes))
            if len(encoder.classes_) < 2:
                raise ValueError(
                    f"y holds one class only ({encoder.classes_.tolist()[0]!r}); a classifier "
                    "needs songs of at least two classes"
                )
            self.label_encoder_ = encoder
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y holds labels not in classes_ {self.classes_.tolist()}: "
                             f"{unseen.tolist()}")
        y_enc = self.label_encoder_.transform(y).astype(np.int64)
        if reset:
            self._set_class_weight(y_enc)
        return y_enc

    def _set_class_weight(self, y_enc: np.ndarray) -> None:
        cw = self.class_weight
        if cw is None:
            self.class_weight_ = None
            return
        classes = np.arange(len(self.classes_))
        if isinstance(cw, dict):
            unknown = set(cw) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names classes not in y: {sorted(unknown)}")
            self.class_weight_ = np.array([float(cw.get(c, 1.0)) for c in self.classes_])
        else:  # "balanced", as _parameter_constraints allows
            present = np.unique(y_enc)
            weights = np.ones(len(classes))
            weights[present] = compute_class_weight("balanced", classes=present, y=y_enc)
            self.class_weight_ = weights

    def predict_interval_proba(self, X) -> np.ndarray:
        """Class probabilities of every interval of every song.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs, k, n_classes)
        """
        return self._interval_outputs(X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of each song: the mean over its intervals.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs, n_classes)
        """
        return self.predict_interval_proba(X).mean(axis=1)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each song.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)  # checks fitting before classes_ is read
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags


SpectrogramCNNClassifier.__doc__ = shared_docstring(SpectrogramCNNClassifier.__doc__)
