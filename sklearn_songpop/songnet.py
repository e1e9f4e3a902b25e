"""SongNet: what every skorch estimator of ours shares, whatever it predicts.

Rows are songs, each holding ``k`` spectrograms ``(k, n_bins, n_frames)``.
The network trains on every interval, each carrying its song's target, and a
song's prediction is the mean over its intervals. This module holds that
machinery once: the input checks and shapes, seeding, the device, the CPU
fast path, the random crops and augmentations of the small-data recipe, and
the training step. :class:`~sklearn_songpop.SpectrogramCNNClassifier` and
:class:`~sklearn_songpop.SpectrogramCNNRegressor` put it in front of skorch's
``NeuralNetClassifier`` and ``NeuralNetRegressor``, the way skorch lays its
own two beside ``NeuralNet``; they add only what is about classes or numbers.
"""

from __future__ import annotations

import inspect
import os
import warnings
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array
from skorch import NeuralNet
from skorch.dataset import get_len, unpack_data
from skorch.utils import is_dataset, to_tensor

from sklearn_songpop import augment
from sklearn_songpop._device import resolve_device
from sklearn_songpop._novelty import fit_reference, novelty_scores
from sklearn_songpop.nets import SongpopCNN
from sklearn_songpop.persistence import load_model
from sklearn_songpop.store import ChunkShuffleSampler, FeatureStore, StoreDataset

__all__ = ["SongNet", "body_state_from", "resolve_device"]

def body_state_from(source) -> dict[str, torch.Tensor]:
    """The body tensors to start a network from, for ``init_from``.

    Parameters
    ----------
    source : estimator, Pipeline, FrozenEstimator, str or os.PathLike
        A fitted :class:`~sklearn_songpop.ContrastiveEncoder` or song network,
        a pipeline ending in one, a ``FrozenEstimator`` of either, or the path
        of a file saved with joblib or :func:`~sklearn_songpop.save_model`.

    Returns
    -------
    dict of str to Tensor
        Copies on the CPU, keyed as in a
        :class:`~sklearn_songpop.nets.SongpopCNN`'s ``state_dict``.

    Raises
    ------
    FileNotFoundError, ValueError
        For a missing or unreadable file, an unfitted estimator, or one
        whose network has no body to copy.

    Examples
    --------
    >>> body_state_from(42)
    Traceback (most recent call last):
    ...
    ValueError: init_from must be a fitted ContrastiveEncoder or song network, ...; got int
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    if isinstance(source, (str, os.PathLike)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # versions and devices: only the weights matter
            try:
                source = load_model(source)
            except FileNotFoundError as exc:
                raise FileNotFoundError(f"init_from: {exc}") from exc
            except ValueError as exc:
                raise ValueError(f"init_from: {exc}") from exc
    if isinstance(source, FrozenEstimator):
        source = source.estimator
    if isinstance(source, Pipeline):
        source = source.steps[-1][1]
        if isinstance(source, FrozenEstimator):
            source = source.estimator
    if not isinstance(source, SongNet):
        raise ValueError(
            "init_from must be a fitted ContrastiveEncoder or song network, a pipeline ending "
            f"in one, or the path of a saved one; got {type(source).__name__}"
        )
    module = getattr(source, "module_", None)
    if module is None or not getattr(source, "initialized_", False) \
            or not hasattr(source, "input_shape_"):
        raise ValueError(
            f"init_from: the {type(source).__name__} is not fitted. clone() (used by "
            "GridSearchCV and cross_validate) makes unfitted copies of estimators given as "
            "parameters: give the path of the saved encoder, or FrozenEstimator(encoder)"
        )
    if not hasattr(module, "body_state_dict"):
        raise ValueError(
            f"init_from: the network of the {type(source).__name__} "
            f"({type(module).__name__}) has no body to copy"
        )
    return {k: v.detach().cpu().clone() for k, v in module.body_state_dict().items()}


def _store_rows(dataset) -> tuple[np.ndarray, int] | None:
    """The store row of each item of a StoreDataset (or a Subset of one), and the store's
    chunk size; None for any other dataset."""
    indices = np.arange(len(dataset))
    while isinstance(dataset, torch.utils.data.Subset):
        indices = np.asarray(dataset.indices)[indices]
        dataset = dataset.dataset
    if not isinstance(dataset, StoreDataset):
        return None
    return dataset.rows[indices], dataset.store.chunk_songs


def _bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - depends on the torch build
        return False


class SongNet:
    """The shared base of the song networks; put it before a skorch ``NeuralNet`` subclass.

    A subclass says what its targets are: ``_check_y`` turns ``y`` into what
    the network trains on (and learns its state on ``reset``), ``_n_outputs``
    sizes the network's last layer, ``_combine_crops`` averages the outputs
    of an interval's crops, and ``_mixup_classes`` tells mixup whether the
    targets are classes. Everything else, from the input checks to the
    training step, lives here.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=SongpopCNN
        The network; it reads ``(batch, 1, n_bins, n_frames)`` and returns
        ``(batch, n_outputs)``. When it is a class whose constructor takes
        ``n_classes`` or ``input_shape``, those are filled from the data
        unless given as ``module__n_classes`` / ``module__input_shape``.
    criterion : torch loss class
        Loss on the output of each interval.
    optimizer, lr, max_epochs, batch_size, train_split, callbacks, input_shape, \
random_state, fast_path, device, crop_frames, freq_mask, time_mask, n_masks, \
gain_db, filter_db, mixup, init_from, freeze_epochs, novelty_songs, verbose, **kwargs
        As documented in the subclasses (the shared entries live in
        ``sklearn_songpop._docstrings``).

    Examples
    --------
    >>> from sklearn_songpop import SpectrogramCNNClassifier, SpectrogramCNNRegressor
    >>> issubclass(SpectrogramCNNClassifier, SongNet), issubclass(SpectrogramCNNRegressor, SongNet)
    (True, True)
    """

    def __init__(
        self,
        module=SongpopCNN,
        *,
        criterion,
        optimizer=torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 20,
        batch_size: int = 16,
        train_split=None,
        callbacks=None,
        input_shape: tuple[int, ...] | None = None,
        random_state=None,
        fast_path="auto",
        device: str = "cpu",
        crop_frames: int | None = None,
        freq_mask: float = 0.0,
        time_mask: float = 0.0,
        n_masks: int = 1,
        gain_db: float = 0.0,
        filter_db: float = 0.0,
        mixup: float = 0.0,
        init_from=None,
        freeze_epochs: int = 0,
        novelty_songs: int = 10_000,
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
        self.random_state = random_state
        self.fast_path = fast_path
        self.crop_frames = crop_frames
        self.freq_mask = freq_mask
        self.time_mask = time_mask
        self.n_masks = n_masks
        self.gain_db = gain_db
        self.filter_db = filter_db
        self.mixup = mixup
        self.init_from = init_from
        self.freeze_epochs = freeze_epochs
        self.novelty_songs = novelty_songs

    # ------------------------------------------------------------------ what subclasses say
    def _check_y(self, y, n: int, reset: bool):
        """``y`` as the network trains on it; ``reset`` learns the target's state."""
        raise NotImplementedError

    def _n_outputs(self) -> int:
        """Outputs of the network's last layer, once the targets are known."""
        raise NotImplementedError

    def _combine_crops(self, outputs: torch.Tensor) -> torch.Tensor:
        """An interval's output from its crops' ``(batch, k, n_crops, n_outputs)``."""
        raise NotImplementedError

    def _mixup_classes(self) -> int | None:
        """Number of classes mixup makes one-hot labels of; None mixes numbers."""
        return None

    def _module_defaults(self) -> dict:
        """Constructor arguments the data fixes, given to the module where it takes them."""
        return {"n_classes": self._n_outputs(), "input_shape": tuple(self.input_shape_[1:])}

    # ------------------------------------------------------------------ device and seeding
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

    # ------------------------------------------------------------------ skorch hooks
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
        # a network saved before filter_db existed trained without it
        state.setdefault("filter_db", 0.0)
        requested = state.get("device")
        state["device"] = resolve_device(requested)
        super().__setstate__(state)
        if str(requested) == "auto":
            self.device = requested

    def get_module_params(self) -> dict:
        """The keyword arguments the network is built with.

        The ``module__`` parameters and, where the module's class takes them
        and the data has fixed them, ``n_classes`` and ``input_shape``.

        Returns
        -------
        dict

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_songpop import SpectrogramCNNClassifier
        >>> X = np.zeros((4, 2, 8, 10), np.float32)
        >>> clf = SpectrogramCNNClassifier(max_epochs=0, module__channels=(4, 8))
        >>> sorted(clf.fit(X, ["hit", "miss", "hit", "miss"]).get_module_params().items())
        [('channels', (4, 8)), ('n_classes', 2)]

        ``SongpopCNN`` reads spectrograms of any size, so it takes no ``input_shape``.
        """
        kwargs = self.get_params_for("module")
        if isinstance(self.module, type) and hasattr(self, "input_shape_"):
            accepted = inspect.signature(self.module).parameters
            for name, value in self._module_defaults().items():
                if name in accepted:
                    kwargs.setdefault(name, value)
        return kwargs

    def initialize_module(self):
        """Instantiate the network, filling ``n_classes`` and ``input_shape`` from the data.

        With ``init_from``, the body's tensors are then copied from there.
        """
        module = self.initialized_instance(self.module, self.get_module_params())
        if self.init_from is not None:
            if not hasattr(module, "load_body_state_dict"):
                raise ValueError(
                    f"init_from needs a network with a body to load, such as SongpopCNN; "
                    f"{type(module).__name__} has none"
                )
            module.load_body_state_dict(body_state_from(self.init_from))
        if self._use_fast_path():
            module = module.to(memory_format=torch.channels_last)
        self.module_ = module
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        """``train_split``'s parts, the validation songs in the order they have in ``X``.

        skorch's splits list the validation songs shuffled. Their order changes
        no score, but a feature store read in that order decodes a chunk again
        for nearly every batch, where in order each chunk is read once.
        """
        train, valid = super().get_split_datasets(X, y, **fit_params)
        if isinstance(valid, torch.utils.data.Subset):
            valid = torch.utils.data.Subset(valid.dataset, np.sort(np.asarray(valid.indices)))
        return train, valid

    def get_iterator(self, dataset, training=False):
        """skorch's iterator; training songs are shuffled unless ``iterator_train__shuffle``."""
        if not training:
            return super().get_iterator(dataset, training)
        kwargs = self.get_params_for("iterator_train")
        kwargs.setdefault("shuffle", True)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        layout = _store_rows(dataset)
        if layout is not None and kwargs["shuffle"] and "sampler" not in kwargs:
            # a few chunks at a time, so that each chunk of the store is read once an epoch
            kwargs["shuffle"] = False
            kwargs["sampler"] = ChunkShuffleSampler(*layout)
        return self.iterator_train(dataset, **kwargs)

    def _logits(self, x: torch.Tensor, **fit_params) -> torch.Tensor:
        """Outputs of a stack of intervals ``(..., n_bins, n_frames)``: ``(..., n_outputs)``."""
        lead = x.shape[:-2]
        x = x.reshape(-1, 1, *x.shape[-2:]).float()
        fast = self._use_fast_path()
        if fast:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
            logits = self._forward_module(x, **fit_params)
        return logits.float().reshape(*lead, -1)

    def _forward_module(self, x: torch.Tensor, **fit_params) -> torch.Tensor:
        """The module's output for a batch of single spectrograms ``(batch, 1, F, T)``.

        Inside :meth:`_embeddings`, the embedding before the last layer: the
        module's ``embed``, or else its ``features``.
        """
        if not self._embedding_output:
            return self.module_(x, **fit_params)
        embed = getattr(self.module_, "embed", None) or getattr(self.module_, "features", None)
        if embed is None:
            raise TypeError(
                f"{type(self.module_).__name__} has no embed(x) or features(x) method, so "
                "there is no embedding to measure novelty on; give the module one that "
                "returns the layer before its last"
            )
        return embed(x, **fit_params)

    @property
    def _embedding_output(self) -> bool:
        return getattr(self, "_embedding_mode", False)

    @contextmanager
    def _embeddings(self):
        """Make the network give embeddings instead of its outputs."""
        self._embedding_mode = True
        try:
            yield
        finally:
            del self._embedding_mode  # leaves the estimator as it found it

    @property
    def _moments_output(self) -> bool:
        return getattr(self, "_moments_mode", False)

    @contextmanager
    def _embedding_moments(self):
        """Make the network give, for every interval, the mean and the variance of the
        embeddings of the crops that tile it."""
        self._moments_mode = True
        try:
            with self._embeddings():
                yield
        finally:
            del self._moments_mode

    # ------------------------------------------------------------------ a frozen body
    def _body_frozen(self) -> bool:
        """Whether the current epoch trains the last layer only (``freeze_epochs``)."""
        return self.init_from is not None and len(self.history) <= int(self.freeze_epochs)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Start an epoch (see skorch); freezes or thaws the body for ``freeze_epochs``."""
        super().on_epoch_begin(net, dataset_train=dataset_train,
                               dataset_valid=dataset_valid, **kwargs)
        frozen = self._body_frozen()
        for part in getattr(self.module_, "body_modules", list)():
            for param in part.parameters():
                param.requires_grad_(not frozen)

    def infer(self, x, **fit_params):
        """The network's output for every interval, ``(batch, k, n_outputs)``.

        In training the batch comes already cropped (see
        :meth:`train_step_single`). Otherwise, with ``crop_frames`` set, an
        interval's output combines the outputs of the crops that tile it;
        inside ``_embedding_moments`` it is the mean and the variance of their
        embeddings, ``2 * dim`` values (one crop, the whole interval, without
        ``crop_frames``).

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)
        **fit_params
            Passed to the module's ``forward``.

        Returns
        -------
        Tensor of shape (batch, k, n_outputs), float32
        """
        x = to_tensor(x, device=self._device())
        moments = self._moments_output
        if (self.module_.training or self.crop_frames is None) and not moments:
            return self._logits(x, **fit_params)
        crops = (x[:, :, None] if self.crop_frames is None
                 else augment.tile_crops(x, int(self.crop_frames)))
        outputs = self._logits(crops, **fit_params)
        if moments:
            return torch.cat([outputs.mean(dim=2), outputs.var(dim=2, unbiased=False)], dim=-1)
        return outputs.mean(dim=2) if self._embedding_output else self._combine_crops(outputs)

    def augment_batch(self, x: torch.Tensor, y: torch.Tensor):
        """The random crop and the augmentations of one training batch.

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)
        y : Tensor of shape (batch,)
            The targets as the network trains on them.

        Returns
        -------
        x : Tensor of shape (batch, k, n_bins, crop)
        y : Tensor
            ``y``, or its mixed version with ``mixup`` (one-hot rows for classes).
        """
        if self.crop_frames is not None:
            x = augment.random_crop(x, int(self.crop_frames))
        if self.gain_db:
            x = augment.shift_gain(x, float(self.gain_db))
        if self.filter_db:
            x = augment.random_filter(x, float(self.filter_db))
        if self.freq_mask:
            x = augment.mask_spans(x, float(self.freq_mask), axis=-2, n_masks=self.n_masks)
        if self.time_mask:
            x = augment.mask_spans(x, float(self.time_mask), axis=-1, n_masks=self.n_masks)
        if self.mixup:
            x, y = augment.mixup(x, y, float(self.mixup), self._mixup_classes())
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
        if self._body_frozen():  # keep the loaded batch-norm statistics too
            for part in self.module_.body_modules():
                part.eval()
        Xi, yi = unpack_data(batch)
        Xi, yi = self.augment_batch(to_tensor(Xi, device=self._device()),
                                    to_tensor(yi, device=self._device()))
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

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

    # ------------------------------------------------------------------ validation
    def _check_X(self, X, reset: bool):
        """X as float (n, k, n_bins, n_frames); a store as a dataset; datasets pass through."""
        if isinstance(X, FeatureStore):
            return self._store_dataset(X, reset)
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
            if len(X) < 2:
                raise ValueError(
                    f"X holds {len(X)} song (n_samples = {len(X)}); training needs at least "
                    "2 songs (batch norm compares the songs of a batch)"
                )
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

    def _store_dataset(self, store: FeatureStore, reset: bool) -> StoreDataset:
        """A complete store's written songs as a dataset; its shape checked or learned."""
        shape = tuple(store.shape[1:])
        if reset:
            if len(store.rows) < 2:
                raise ValueError(f"{store.path}: {len(store.rows)} written song(s); training "
                                 "needs at least 2")
            self.n_features_in_ = shape[0]
            self.input_shape_ = shape
        elif getattr(self, "input_shape_", None) is not None \
                and shape[1:] != tuple(self.input_shape_[1:]):
            raise ValueError(
                f"{store.path} holds spectrograms of shape {shape[1:]} (n_bins, n_frames), but "
                f"{type(self).__name__} was fitted on {tuple(self.input_shape_[1:])}"
            )
        return StoreDataset(store)

    def _targets_of(self, X, y):
        """``y``, or a store's own labels (of its written songs) when ``y`` is None."""
        if not isinstance(X, StoreDataset):
            return y
        if y is None:
            y = X.store.y
            if y is None:
                raise ValueError(f"{X.store.path}: the store holds no labels; pass y")
            return np.asarray(y)[X.rows]
        return y

    def _fit_targets(self, X, y, reset: bool, **check):
        """Checked targets for training (``_check_y``); a store's dataset serves them too."""
        y_fit = self._check_y(self._targets_of(X, y), get_len(X), reset=reset, **check)
        if isinstance(X, StoreDataset):
            X.y = y_fit
        return y_fit

    def _check_training_params(self) -> None:
        """Clear errors for bad values of the recipe's own parameters."""
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
        for name in ("gain_db", "filter_db", "mixup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0 (0 turns it off), got {value!r}")
        keep = self.novelty_songs
        if isinstance(keep, bool) or not isinstance(keep, Integral) or keep < 0:
            raise ValueError(f"novelty_songs must be an integer >= 0 (0 keeps none), got {keep!r}")
        freeze = self.freeze_epochs
        if isinstance(freeze, bool) or not isinstance(freeze, Integral) or freeze < 0:
            raise ValueError(f"freeze_epochs must be an integer >= 0, got {freeze!r}")
        if freeze and self.init_from is None:
            raise ValueError(
                f"freeze_epochs={freeze} freezes a body loaded with init_from, but init_from "
                "is None"
            )

    # ------------------------------------------------------------------ training and output
    def _train(self, X, y_fit, *, initialize: bool, **fit_params):
        """Train on checked songs and targets, seeded; returns self."""
        # skorch's callbacks read net.device (the scoring cache moves predictions to it)
        with self._seeded(), self._concrete_device():
            if initialize:
                self.initialize()
            NeuralNet.partial_fit(self, X, y_fit, **fit_params)
            # inside the seed: the data loader draws from torch's generator
            self._keep_novelty_reference(X)
        return self

    def _keep_novelty_reference(self, X) -> None:
        """Embed (up to ``novelty_songs``) training songs for :meth:`novelty`."""
        keep = int(self.novelty_songs)
        embeds = any(hasattr(self.module_, name) for name in ("embed", "features"))
        if keep == 0 or (is_dataset(X) and not isinstance(X, StoreDataset)) or not embeds:
            self.novelty_reference_ = None
            return
        n = get_len(X)
        if n > keep:  # a random subset bounds the memory, whatever the number of songs
            rows = np.sort(check_random_state(self.random_state).choice(n, keep, False))
            X = torch.utils.data.Subset(X, rows) if is_dataset(X) else X[rows]
        self.novelty_reference_ = fit_reference(self._song_embeddings(X))

    def _song_embeddings(self, X) -> np.ndarray:
        """Each song's embedding: the mean over its intervals (and their crops)."""
        with self._embeddings():
            return np.asarray(self._interval_outputs(X), dtype=np.float32).mean(axis=1)

    def novelty(self, X) -> np.ndarray:
        """How unlike the training songs each song is, as a percentile.

        A song's embedding (the network's layer before the last, averaged
        over its intervals) is compared with those of the training songs kept
        at fit time (``novelty_songs``): the mean distance to its five
        nearest, after standardising each dimension, against the same
        distance of every kept training song to its five nearest others.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs,), in [0, 1]
            The share of training songs that lie closer to their neighbours:
            0.99 reads "further out than 99% of what the model learned
            from". Training songs score low (an odd one out among them
            less so); noise or another genre high.
            NaN when fewer than two training songs were kept.
        """
        self.check_is_fitted()
        reference = getattr(self, "novelty_reference_", None)
        if reference is None:
            raise ValueError(
                f"{type(self).__name__} kept no training songs to compare with: it was "
                "fitted with novelty_songs=0, from a skorch Dataset, or with a module that "
                "has no embed(x) or features(x) method giving the layer before its last"
            )
        return novelty_scores(reference, self._song_embeddings(X))

    def fit(self, X, y=None, **fit_params):
        """Train the network on every interval of every song, from scratch.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames), or FeatureStore
            Also ``(n_songs, n_bins, n_frames)`` (k = 1) or 2-D (see
            ``input_shape``). A complete :class:`~sklearn_songpop.FeatureStore`
            is read a few chunks at a time, never whole; its failed songs are
            left out.
        y : array-like of shape (n_songs,), or None
            The songs' targets; None takes a store's own labels.
        **fit_params
            Passed to skorch (the train split and the module's ``forward``).

        Returns
        -------
        self
        """
        self._check_training_params()
        X = self._check_X(X, reset=True)
        y_fit = self._fit_targets(X, y, reset=True)
        return self._train(X, y_fit, initialize=not self.warm_start or not self.initialized_,
                           **fit_params)

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)
        y : array-like of shape (n_songs,)
        classes : ignored
            Here for the signature scikit-learn and skorch give ``partial_fit``;
            the classifier reads it.
        **fit_params
            Passed to skorch.

        Returns
        -------
        self
        """
        self._check_training_params()
        first = not hasattr(self, "input_shape_")
        X = self._check_X(X, reset=first)
        y_fit = self._fit_targets(X, y, reset=first)
        return self._train(X, y_fit, initialize=False, **fit_params)

    def _interval_outputs(self, X) -> np.ndarray:
        """The network's output for every interval, ``(n_songs, k, n_outputs)``."""
        X = self._check_X(X, reset=False)
        self.check_is_fitted()
        if get_len(X) == 0:
            return np.empty((0, self.input_shape_[0], self._n_outputs()), np.float32)
        with self._concrete_device():
            return NeuralNet.predict_proba(self, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
