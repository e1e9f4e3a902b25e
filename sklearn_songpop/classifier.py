"""SpectrogramCNNClassifier: a skorch classifier whose rows are songs.

Each row of ``X`` is one song holding ``k`` spectrograms ``(k, n_bins,
n_frames)``. The network trains on every interval, each carrying its song's
label, and a song's prediction is the mean of its intervals' probabilities.
Because rows stay songs, any splitter (skorch's internal validation split
included) keeps a song's intervals together.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring
from skorch.dataset import get_len, unpack_data
from skorch.utils import is_dataset, to_tensor

from sklearn_songpop import augment
from sklearn_songpop.nets import SongpopCNN
from sklearn_songpop.training import song_roc_auc

__all__ = ["SpectrogramCNNClassifier", "resolve_device"]


def resolve_device(device: str | torch.device | None) -> str:
    """Turn ``"auto"`` into ``"cuda"`` where a GPU is present, else ``"cpu"``.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"``, or any device torch accepts.

    Returns
    -------
    str
        A device string torch accepts.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device is None:
        return "cpu"
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def _bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - depends on the torch build
        return False


def _encoded_accuracy(net, X, y) -> float:
    """Song-level accuracy on encoded labels, for skorch's ``valid_acc``."""
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == np.asarray(y)))


class SpectrogramCNNClassifier(NeuralNetClassifier):
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
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=1e-3
    max_epochs : int, default=20
    batch_size : int, default=16
        Songs per batch; a batch holds ``batch_size * k`` intervals.
    train_split : callable or None, default=None
        skorch's internal validation split (for early stopping and the
        ``valid_*`` scores), e.g. ``skorch.dataset.ValidSplit(0.2,
        stratified=True)``. It splits rows, which are songs, so no song has
        intervals on both sides. None trains on everything.
    callbacks : list or None, default=None
        skorch callbacks (``EarlyStopping``, ``Checkpoint``, LR schedulers...).
    input_shape : tuple of int or None, default=None
        How to read a 2-D ``X`` of flattened spectrograms: ``(n_bins,
        n_frames)`` for one interval per row, or ``(k, n_bins, n_frames)``.
        None reads a 2-D row of ``d`` values as one ``1 x d`` spectrogram.
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss; ``"balanced"`` weighs them by
        ``n_samples / (n_classes * count)``, as in scikit-learn.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and dropout; the global torch seed is
        left as it was. On the CPU, the same seed gives the same model.
    fast_path : "auto", bool, default="auto"
        On the CPU, compute in bfloat16 (autocast) with channels-last tensors.
        ``"auto"`` uses it where the CPU has native bfloat16 (AVX512-BF16 or
        AMX); weights and the loss stay float32.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``), or ``"auto"`` for a GPU when
        there is one.
    crop_frames : int or None, default=None
        Train on a random run of this many frames of every interval, drawn
        afresh for each batch, so every epoch sees other audio of each song;
        at prediction an interval's probabilities are the mean over crops
        that tile it with about half a crop of overlap (the short-chunk
        recipe of Won et al. 2020, "Evaluation of CNN-based automatic music
        tagging models"). None trains and predicts on whole intervals.
    freq_mask, time_mask : float, default=0.0
        SpecAugment (Park et al. 2019): during training, hide up to this share
        of the frequency bands (of the frames) of every interval behind its
        mean, ``n_masks`` times. 0 turns it off.
    n_masks : int, default=1
        Masks of each kind per interval.
    gain_db : float, default=0.0
        During training, add a random level in ``[-gain_db, gain_db]`` dB to
        every interval (for spectrograms in decibels). 0 turns it off.
    mixup : float, default=0.0
        During training, mix every song with another of the batch, labels
        too, with a weight drawn from Beta(mixup, mixup) (Zhang et al. 2018).
        0 turns it off.
    verbose : int, default=0
        skorch's epoch table when 1.
    **kwargs
        Any other skorch parameter (``iterator_train__num_workers``,
        ``module__channels``, ``optimizer__weight_decay``, ...).

    Attributes
    ----------
    classes_ : ndarray
        The class labels, as given in ``y``.
    class_weight_ : ndarray or None
        The loss weight of each class, in the order of ``classes_``.
    input_shape_ : tuple of int
        ``(k, n_bins, n_frames)`` of the training songs.
    n_features_in_ : int
        Length of the second axis of the ``X`` given to ``fit``.
    module_, criterion_, optimizer_, history_ :
        skorch's fitted components and training history.

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

    def __init__(
        self,
        module=SongpopCNN,
        *,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 20,
        batch_size: int = 16,
        train_split=None,
        callbacks=None,
        input_shape: tuple[int, ...] | None = None,
        class_weight=None,
        random_state=None,
        fast_path="auto",
        device: str = "cpu",
        crop_frames: int | None = None,
        freq_mask: float = 0.0,
        time_mask: float = 0.0,
        n_masks: int = 1,
        gain_db: float = 0.0,
        mixup: float = 0.0,
        verbose: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.input_shape = input_shape
        self.class_weight = class_weight
        self.random_state = random_state
        self.fast_path = fast_path
        self.crop_frames = crop_frames
        self.freq_mask = freq_mask
        self.time_mask = time_mask
        self.n_masks = n_masks
        self.gain_db = gain_db
        self.mixup = mixup

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

    def _device(self) -> str:
        return resolve_device(self.device)

    @contextmanager
    def _concrete_device(self):
        """Let skorch's internals see a concrete device while ``device="auto"``."""
        requested = self.device
        self.device = self._device()
        try:
            yield
        finally:
            self.device = requested

    def _use_fast_path(self) -> bool:
        if self._device() != "cpu":
            return False
        if self.fast_path == "auto":
            return _bf16_supported()
        return bool(self.fast_path)

    def initialize(self):
        """Build module, criterion, optimizer and callbacks (see skorch)."""
        with self._concrete_device():
            return super().initialize()

    def set_params(self, **kwargs):
        """Set parameters, as skorch's ``set_params``.

        Parameters
        ----------
        **kwargs
            Parameter names and values.

        Returns
        -------
        self
        """
        with self._concrete_device() if "device" not in kwargs else nullcontext():
            return super().set_params(**kwargs)

    def __setstate__(self, state):
        requested = state.get("device")
        state["device"] = resolve_device(requested)
        super().__setstate__(state)
        if str(requested) == "auto":
            self.device = requested

    def initialize_module(self):
        """Instantiate the network, filling ``n_classes`` and ``input_shape`` from the data."""
        kwargs = self.get_params_for("module")
        if isinstance(self.module, type) and hasattr(self, "label_encoder_"):
            accepted = inspect.signature(self.module).parameters
            if "n_classes" in accepted:
                kwargs.setdefault("n_classes", len(self.classes_))
            if "input_shape" in accepted:
                kwargs.setdefault("input_shape", tuple(self.input_shape_[1:]))
        module = self.initialized_instance(self.module, kwargs)
        if self._use_fast_path():
            module = module.to(memory_format=torch.channels_last)
        self.module_ = module
        return self

    def initialize_criterion(self):
        """Instantiate the loss, with the class weights when there are any."""
        kwargs = self.get_params_for("criterion")
        weights = getattr(self, "class_weight_", None)
        if weights is not None and "weight" not in kwargs:
            kwargs["weight"] = torch.as_tensor(weights, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def get_iterator(self, dataset, training=False):
        """skorch's iterator; training songs are shuffled unless ``iterator_train__shuffle``."""
        if not training:
            return super().get_iterator(dataset, training)
        kwargs = self.get_params_for("iterator_train")
        kwargs.setdefault("shuffle", True)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return self.iterator_train(dataset, **kwargs)

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

    def _logits(self, x: torch.Tensor, **fit_params) -> torch.Tensor:
        """Logits of a stack of intervals ``(..., n_bins, n_frames)``: ``(..., n_classes)``."""
        lead = x.shape[:-2]
        x = x.reshape(-1, 1, *x.shape[-2:]).float()
        fast = self._use_fast_path()
        if fast:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
            logits = self.module_(x, **fit_params)
        return logits.float().reshape(*lead, -1)

    def infer(self, x, **fit_params):
        """Logits of every interval, ``(batch, k, n_classes)``.

        In training the batch comes already cropped (see
        :meth:`train_step_single`). Otherwise, with ``crop_frames`` set, an
        interval's output is the log of the mean of its crops' probabilities,
        which a softmax turns back into that mean.

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)
        **fit_params
            Passed to the module's ``forward``.

        Returns
        -------
        Tensor of shape (batch, k, n_classes), float32
        """
        x = to_tensor(x, device=self._device())
        if self.module_.training or self.crop_frames is None:
            return self._logits(x, **fit_params)
        crops = augment.tile_crops(x, int(self.crop_frames))
        log_p = torch.log_softmax(self._logits(crops, **fit_params), dim=-1)
        return torch.logsumexp(log_p, dim=2) - np.log(crops.shape[2])

    def augment_batch(self, x: torch.Tensor, y: torch.Tensor):
        """The random crop and the augmentations of one training batch.

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)
        y : Tensor of shape (batch,)
            Encoded labels.

        Returns
        -------
        x : Tensor of shape (batch, k, n_bins, crop)
        y : Tensor of shape (batch,), or (batch, n_classes) of mixed labels with ``mixup``
        """
        if self.crop_frames is not None:
            x = augment.random_crop(x, int(self.crop_frames))
        if self.gain_db:
            x = augment.shift_gain(x, float(self.gain_db))
        if self.freq_mask:
            x = augment.mask_spans(x, float(self.freq_mask), axis=-2, n_masks=self.n_masks)
        if self.time_mask:
            x = augment.mask_spans(x, float(self.time_mask), axis=-1, n_masks=self.n_masks)
        if self.mixup:
            x, y = augment.mixup(x, y, float(self.mixup), len(self.classes_))
        return x, y

    def train_step_single(self, batch, **fit_params):
        """skorch's training step, on a cropped and augmented batch.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` from the data loader.
        **fit_params
            Passed to the module's ``forward``.

        Returns
        -------
        dict
            ``loss`` and ``y_pred``, as skorch expects.
        """
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        Xi, yi = self.augment_batch(to_tensor(Xi, device=self._device()),
                                    to_tensor(yi, device=self._device()))
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Loss over every interval, each labelled with its song's class.

        Parameters
        ----------
        y_pred : Tensor of shape (batch, k, n_classes)
        y_true : Tensor of shape (batch,), or (batch, n_classes) of mixed labels
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
        return self.criterion_(y_pred, y_true)

    # ------------------------------------------------------------------ validation
    def _check_X(self, X, reset: bool):
        """X as float (n, k, n_bins, n_frames); datasets pass through for skorch."""
        if is_dataset(X):
            return X
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        keep = getattr(X, "dtype", None) == np.float16
        X = check_array(
            X, dtype=np.float16 if keep else np.float32, allow_nd=True,
            ensure_min_features=1, input_name="X",
        )
        n_cols = X.shape[1]
        if X.ndim == 2:
            if self.input_shape is None:
                X = X.reshape(X.shape[0], 1, 1, X.shape[1])
            else:
                shape = tuple(int(s) for s in self.input_shape)
                if len(shape) not in (2, 3) or int(np.prod(shape)) != X.shape[1]:
                    raise ValueError(
                        f"input_shape={self.input_shape!r} does not fit rows of {X.shape[1]} "
                        "values: give (n_bins, n_frames) or (k, n_bins, n_frames) whose "
                        "product is the row length"
                    )
                X = X.reshape(X.shape[0], *((1,) if len(shape) == 2 else ()), *shape)
        elif X.ndim == 3:
            X = X[:, None]
        elif X.ndim != 4:
            raise ValueError(
                "X must be (n_songs, k, n_bins, n_frames), (n_songs, n_bins, n_frames) or "
                f"2-D flattened spectrograms; got shape {X.shape}"
            )
        if reset:
            self.n_features_in_ = n_cols
            self.input_shape_ = tuple(X.shape[1:])
        else:
            expected = getattr(self, "input_shape_", None)
            # the number of intervals may differ: a song's prediction averages over them
            if expected is not None and tuple(X.shape[2:]) != expected[1:]:
                if X.shape[1:3] == (1, 1):
                    raise ValueError(
                        f"X has {n_cols} features, but {type(self).__name__} is expecting "
                        f"{self.n_features_in_} features as input."
                    )
                raise ValueError(
                    f"X holds spectrograms of shape {tuple(X.shape[2:])} (n_bins, n_frames), "
                    f"but {type(self).__name__} was fitted on {expected[1:]}; transform new "
                    "songs with the same IntervalSampler and SpectrogramTransformer settings"
                )
        return X

    def _check_y(self, y, n: int, reset: bool) -> np.ndarray:
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
                encoder.fit(y)
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
        return self.label_encoder_.transform(y).astype(np.int64)

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
        elif cw == "balanced":
            present = np.unique(y_enc)
            weights = np.ones(len(classes))
            weights[present] = compute_class_weight("balanced", classes=present, y=y_enc)
            self.class_weight_ = weights
        else:
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")

    def _check_training_params(self) -> None:
        """Clear errors for bad values of this class's own training parameters."""
        crop = self.crop_frames
        if crop is not None and (isinstance(crop, bool) or not isinstance(crop, Integral)
                                 or crop < 1):
            raise ValueError(f"crop_frames must be None or a positive integer, got {crop!r}")
        for name in ("freq_mask", "time_mask"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share of the axis in [0, 1], got {value!r}")
        if isinstance(self.n_masks, bool) or not isinstance(self.n_masks, Integral) \
                or self.n_masks < 1:
            raise ValueError(f"n_masks must be a positive integer, got {self.n_masks!r}")
        for name in ("gain_db", "mixup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0 (0 turns it off), got {value!r}")

    @contextmanager
    def _seeded(self):
        """Seed torch from random_state, restoring the global generator afterwards."""
        if self.random_state is None:
            yield
            return
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        devices = [torch.cuda.current_device()] if self._device().startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    # ------------------------------------------------------------------ public API
    def fit(self, X, y, **fit_params):
        """Train the network on every interval of every song.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)
            Also ``(n_songs, n_bins, n_frames)`` (k = 1) or 2-D (see ``input_shape``).
        y : array-like of shape (n_songs,)
            Class labels of any kind scikit-learn accepts.
        **fit_params
            Passed to skorch (the train split and the module's ``forward``).

        Returns
        -------
        self : SpectrogramCNNClassifier
        """
        self._check_training_params()
        X = self._check_X(X, reset=True)
        y_enc = self._check_y(y, len(X), reset=True)
        self._set_class_weight(y_enc)
        with self._seeded():
            if not self.warm_start or not self.initialized_:
                self.initialize()
            NeuralNetClassifier.partial_fit(self, X, y_enc, **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)
        y : array-like of shape (n_songs,)
        classes : array-like, optional
            All classes, needed on the first call when ``y`` lacks some.
        **fit_params
            Passed to skorch.

        Returns
        -------
        self : SpectrogramCNNClassifier
        """
        self._check_training_params()
        first = not hasattr(self, "input_shape_")
        X = self._check_X(X, reset=first)
        new_encoder = not hasattr(self, "label_encoder_")
        if new_encoder and classes is not None and self.classes is None:
            self.label_encoder_ = LabelEncoder().fit(np.asarray(classes))
            new_encoder = False
        y_enc = self._check_y(y, len(X), reset=new_encoder)
        if first:
            self._set_class_weight(y_enc)
        with self._seeded():
            return NeuralNetClassifier.partial_fit(self, X, y_enc, **fit_params)

    def predict_interval_proba(self, X) -> np.ndarray:
        """Class probabilities of every interval of every song.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs, k, n_classes)
        """
        X = self._check_X(X, reset=False)
        self.check_is_fitted()
        if get_len(X) == 0:
            return np.empty((0, *self.input_shape_[:1], len(self.classes_)), np.float32)
        with self._concrete_device():
            return NeuralNetClassifier.predict_proba(self, X)

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
        tags.input_tags.three_d_array = True
        tags.classifier_tags.poor_score = True
        return tags
