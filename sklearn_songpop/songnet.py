"""SongNet: what every skorch estimator of ours shares, with or without labels.

Rows are songs, each holding ``k`` spectrograms ``(k, n_bins, n_frames)``.
The network trains on every interval, and a song's output is the mean over
its intervals. This module holds that machinery once: seeding, the device,
the CPU fast path, building the network from what the data fixes, the random
crops and augmentations of the small-data recipe, and the training step. It
reads no targets: :class:`~sklearn_songpop.ContrastiveEncoder` extends it as
it is, and :class:`~sklearn_songpop.supervised.SupervisedSongNet` adds the
targets that the classifier and the regressor train on, the way skorch lays
its ``NeuralNetClassifier`` and ``NeuralNetRegressor`` beside ``NeuralNet``.

Everything else goes through skorch's own hooks: ``initialize_module``,
``get_iterator``, ``infer``, ``train_step_single``, ``get_loss``,
``on_epoch_begin``, and the :class:`~sklearn_songpop.novelty.NoveltyReference`
callback. ``fit`` and ``partial_fit`` stay for two things skorch has no
hook for: learning the data's shape (and targets) before the network is
built, and seeding torch around building and training it.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import softmax
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from skorch.dataset import get_len, unpack_data
from skorch.utils import to_numpy, to_tensor

from sklearn_songpop import augment, batching, forward
from sklearn_songpop._device import bf16_supported, resolve_device, seeded
from sklearn_songpop._novelty import novelty_scores
from sklearn_songpop.distributed import DataParallel, check_joinable
from sklearn_songpop.inputs import check_songs
from sklearn_songpop.nets import SongpopCNN
from sklearn_songpop.novelty import NoveltyReference
from sklearn_songpop.store import store_layout
from sklearn_songpop.transfer import body_state_from

__all__ = ["SongNet", "body_state_from", "resolve_device"]


class SongNet:
    """The shared base of the song networks; put it before a skorch ``NeuralNet`` subclass.

    It reads no targets. A subclass says what its network's size depends on
    (``_module_defaults``), how an interval's crops combine
    (``_combine_crops``, their mean here) and, for targets, extends
    ``_targets`` (see :class:`~sklearn_songpop.supervised.SupervisedSongNet`).

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=SongpopCNN
        The network; it reads ``(batch, 1, n_bins, n_frames)`` and returns
        ``(batch, n_outputs)``. Constructor arguments the data fixes (see
        :meth:`get_module_params`) are filled unless given as ``module__...``.
    criterion : torch loss class
        Loss on the output of each interval.
    optimizer, lr, max_epochs, batch_size, train_split, callbacks, input_shape, \
random_state, fast_path, device, crop_frames, freq_mask, time_mask, n_masks, \
gain_db, filter_db, mixup, init_from, freeze_epochs, novelty_songs, distributed, \
verbose, **kwargs
        As documented in the subclasses (the shared entries live in
        ``sklearn_songpop._docstrings``).

    Examples
    --------
    >>> from sklearn_songpop import ContrastiveEncoder, SpectrogramCNNClassifier
    >>> issubclass(SpectrogramCNNClassifier, SongNet), issubclass(ContrastiveEncoder, SongNet)
    (True, True)
    """

    _parameter_constraints: dict = {
        "crop_frames": [None, Interval(Integral, 1, None, closed="left")],
        "freq_mask": [Interval(Real, 0, 1, closed="both")],
        "time_mask": [Interval(Real, 0, 1, closed="both")],
        "n_masks": [Interval(Integral, 1, None, closed="left")],
        "gain_db": [Interval(Real, 0, None, closed="left")],
        "filter_db": [Interval(Real, 0, None, closed="left")],
        "mixup": [Interval(Real, 0, None, closed="left")],
        "fast_path": [StrOptions({"auto"}), "boolean"],
        "freeze_epochs": [Interval(Integral, 0, None, closed="left")],
        "novelty_songs": [Interval(Integral, 0, None, closed="left")],
        "distributed": ["boolean"],
    }

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
        distributed: bool = False,
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
        self.distributed = distributed

    # ------------------------------------------------------------------ what subclasses say
    def _module_defaults(self) -> dict:
        """Constructor arguments the data fixes, given to the module where it takes them."""
        return {"input_shape": tuple(self.input_shape_[1:])}

    def _combine_crops(self, outputs: torch.Tensor) -> torch.Tensor:
        """An interval's output from its crops' ``(batch, k, n_crops, n_outputs)``: the mean."""
        return outputs.mean(dim=2)

    def _targets(self, X, y, *, reset: bool, classes=None):
        """What the network trains on besides ``X``: nothing, in this label-free base."""
        return None

    def _check_params(self) -> None:
        """Clear errors for bad values of our own parameters (skorch checks its own)."""
        params = {name: getattr(self, name) for name in self._parameter_constraints}
        for name, value in params.items():  # scikit-learn takes True for an int
            if isinstance(value, bool) and "boolean" not in self._parameter_constraints[name]:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a number, "
                    f"not a bool. Got {value!r} instead.")
        validate_parameter_constraints(self._parameter_constraints, params,
                                       caller_name=type(self).__name__)
        if self.distributed:
            check_joinable()
        if self.freeze_epochs and self.init_from is None:
            raise ValueError(
                f"freeze_epochs={self.freeze_epochs} freezes a body loaded with init_from, "
                "but init_from is None"
            )

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
            return bf16_supported()
        return bool(self.fast_path)

    def _seeded(self):
        """Seed torch from random_state (see :func:`~sklearn_songpop._device.seeded`)."""
        return seeded(self.random_state, self._device())

    # ------------------------------------------------------------------ skorch hooks
    @property
    def _default_callbacks(self):
        return [*super()._default_callbacks, ("novelty_reference", NoveltyReference())]

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
        and the data has fixed them, its size (``n_classes`` of a classifier
        or regressor, ``embedding_dim`` and ``projection_dim`` of an encoder)
        and ``input_shape``.

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
        """Instantiate the network from :meth:`get_module_params`.

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
        """The batches of an epoch: skorch's ``DataLoader``, or a store read ahead.

        Training songs are shuffled unless ``iterator_train__shuffle=False``;
        a store's a few chunks at a time. A feature store is read through
        :class:`~sklearn_songpop.batching.StoreLoader` (``iterator_*__pin_memory``
        and ``iterator_*__read_ahead`` tune it), and in a data-parallel fit
        every process takes its share of each batch of an order drawn alike
        (see :mod:`sklearn_songpop.batching`). A custom ``iterator_train``,
        ``iterator_valid`` or ``sampler`` is used as given.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        shuffle = kwargs.pop("shuffle", training)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        parallel = getattr(self, "data_parallel_", None) if training else None
        iterator = self.iterator_train if training else self.iterator_valid
        layout = store_layout(dataset)
        if "sampler" in kwargs or iterator is not torch.utils.data.DataLoader or (
                layout is None and parallel is None):
            if parallel is not None:
                raise ValueError(
                    f"distributed=True draws the batches itself; drop the custom "
                    f"{prefix} or {prefix}__sampler"
                )
            return iterator(dataset, shuffle=shuffle, batch_size=batch_size, **kwargs)
        sampler = batching.batch_sampler(
            dataset, batch_size, shuffle=shuffle,
            generator=None if parallel is None else parallel.generator(),
            rank=0 if parallel is None else parallel.rank,
            world_size=1 if parallel is None else parallel.world_size)
        if layout is None:
            return iterator(dataset, batch_sampler=sampler, **kwargs)
        if self._device().startswith("cuda"):
            kwargs.setdefault("pin_memory", True)
        unknown = sorted(set(kwargs) - {"pin_memory", "read_ahead"})
        if unknown:
            raise ValueError(
                f"a feature store is read by StoreLoader, which reads ahead in a thread and "
                f"takes {prefix}__pin_memory and {prefix}__read_ahead; it has no "
                f"{', '.join(unknown)}"
            )
        return batching.StoreLoader(dataset, sampler, **kwargs)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over the training or validation songs (see skorch).

        In a data-parallel fit, the processes' batch-norm statistics are made
        equal before validating, so that all score the same model.
        """
        parallel = getattr(self, "data_parallel_", None)
        if parallel is not None and not training and iterator is not None:
            parallel.sync_buffers()
        return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """End training (see skorch); a data-parallel fit ends with one model everywhere."""
        parallel = getattr(self, "data_parallel_", None)
        if parallel is not None:
            parallel.sync_buffers()
        return super().on_train_end(net, X=X, y=y, **kwargs)

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

    # ------------------------------------------------------------------ the forward pass
    def _on_device(self, x) -> torch.Tensor:
        """A batch on the network's device as float32 (a store's batches come as float16).

        The copy does not wait for the device when the batch lies in pinned memory.
        """
        if isinstance(x, torch.Tensor):
            return x.to(self._device(), non_blocking=x.is_pinned()).float()
        return to_tensor(x, device=self._device()).float()

    def _forward_intervals(self, x, output: str = "outputs", module=None,
                           **fit_params) -> torch.Tensor:
        """:func:`~sklearn_songpop.forward.interval_outputs` of this network, ``(batch, k, n)``.

        ``module`` replaces ``module_`` (the data-parallel wrapper, in training).
        """
        return forward.interval_outputs(
            self.module_ if module is None else module, self._on_device(x), output=output,
            crop_frames=self.crop_frames, fast=self._use_fast_path(),
            combine=self._combine_crops, **fit_params)

    def infer(self, x, **fit_params):
        """The network's output for every interval, ``(batch, k, n_outputs)``.

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)
        **fit_params
            Passed to the module's ``forward``.

        Returns
        -------
        Tensor of shape (batch, k, n_outputs), float32
            With ``crop_frames`` set and outside training, each interval's
            output combines those of the crops that tile it.
        """
        return self._forward_intervals(x, "outputs", **fit_params)

    def _interval_outputs(self, X, output: str = "outputs") -> np.ndarray:
        """:meth:`_forward_intervals` over songs, in batches: ``(n_songs, k, n)``.

        ``"outputs"`` pass through skorch's ``predict_nonlinearity`` (a
        classifier's softmax); embeddings do not.
        """
        X = self._check_X(X, reset=False)
        self.check_is_fitted()
        self._set_training(False)
        if get_len(X) == 0:
            batches = [torch.zeros((0, *self.input_shape_))]
        else:
            iterator = self.get_iterator(self.get_dataset(X), training=False)
            batches = (unpack_data(batch)[0] for batch in iterator)
        finish = self._get_predict_nonlinearity() if output == "outputs" else (lambda t: t)
        with torch.no_grad():
            return np.concatenate(
                [to_numpy(finish(self._forward_intervals(x, output))) for x in batches])

    def song_embeddings(self, X) -> np.ndarray:
        """Each song's embedding: the layer before the network's last, averaged.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames), or FeatureStore

        Returns
        -------
        ndarray of shape (n_songs, dim), float32
            The mean over a song's intervals (and their crops, with ``crop_frames``).
        """
        return np.asarray(self._interval_outputs(X, "embedding"), np.float32).mean(axis=1)

    # ------------------------------------------------------------------ training
    def augment_batch(self, x: torch.Tensor, y):
        """The random crop and the augmentations of one training batch.

        See :func:`~sklearn_songpop.augment.augment_batch`.

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)
        y : Tensor
            The targets as the network trains on them (skorch's placeholder
            without targets).

        Returns
        -------
        x : Tensor of shape (batch, k, n_bins, crop)
        y : Tensor
        """
        return augment.augment_batch(
            x, y, crop_frames=self.crop_frames, gain_db=self.gain_db, filter_db=self.filter_db,
            freq_mask=self.freq_mask, time_mask=self.time_mask, n_masks=self.n_masks,
            mixup_alpha=self.mixup, n_classes=self._mixup_classes())

    def _mixup_classes(self) -> int | None:
        """Number of classes mixup makes one-hot labels of; None mixes numbers."""
        return None

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
        Xi, yi = self.augment_batch(self._on_device(Xi), to_tensor(yi, device=self._device()))
        parallel = getattr(self, "data_parallel_", None)
        if parallel is None:
            y_pred = self.infer(Xi, **fit_params)
        else:  # through the wrapper, which averages the gradients over the processes
            y_pred = self._forward_intervals(Xi, module=parallel.training_module(), **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def _check_X(self, X, reset: bool):
        """Checked songs (see :func:`~sklearn_songpop.inputs.check_songs`); ``reset``
        learns their shape."""
        fitted = None if reset else getattr(self, "input_shape_", None)
        X, n_features, input_shape = check_songs(
            X, input_shape=self.input_shape, fitted_shape=fitted, training=reset,
            n_features_in=getattr(self, "n_features_in_", None), owner=type(self).__name__)
        if reset and input_shape is not None:
            self.n_features_in_, self.input_shape_ = n_features, input_shape
        return X

    def _train(self, X, y, *, initialize: bool, **fit_params):
        """Train on checked songs and targets, seeded; returns self."""
        # skorch's callbacks read net.device (the scoring cache moves predictions to it)
        with self._seeded(), self._concrete_device():
            if initialize:
                self.initialize()
            if not self.distributed:
                # inside the seed: the data loader draws from torch's generator
                return super().partial_fit(X, y, **fit_params)
            with torch.random.fork_rng(devices=[]):  # DataParallel seeds each process
                self.data_parallel_ = DataParallel(self.module_, self._device())
                try:
                    with self.data_parallel_.same_numpy_draws():
                        return super().partial_fit(X, y, **fit_params)
                finally:
                    del self.data_parallel_

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
            The songs' targets; None takes a store's own labels. An encoder
            reads none.
        **fit_params
            Passed to skorch (the train split and the module's ``forward``).

        Returns
        -------
        self
        """
        self._check_params()
        X = self._check_X(X, reset=True)
        y = self._targets(X, y, reset=True)
        return self._train(X, y, initialize=not self.warm_start or not self.initialized_,
                           **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames), or FeatureStore
        y : array-like of shape (n_songs,), or None
        classes : array-like, optional
            A classifier's classes, needed on the first call when ``y`` lacks some.
        **fit_params
            Passed to skorch.

        Returns
        -------
        self
        """
        self._check_params()
        first = not hasattr(self, "input_shape_")
        X = self._check_X(X, reset=first)
        y = self._targets(X, y, reset=first, classes=classes)
        return self._train(X, y, initialize=False, **fit_params)

    def novelty(self, X, scale: str = "share") -> np.ndarray:
        """How unlike the training songs each song is, as a percentile.

        A song's embedding (:meth:`song_embeddings`) is compared with those
        of the training songs kept at fit time (``novelty_songs``, see
        :class:`~sklearn_songpop.novelty.NoveltyReference`): the mean
        distance to its five nearest, after standardising each dimension,
        against the same distance of every kept training song to its five
        nearest others.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)
        scale : {"share", "distance"}, default="share"
            ``"distance"`` gives the song's distance over the median of the
            kept training songs' own, which keeps ranking beyond the
            farthest training song, where the share stays at 1.

        Returns
        -------
        ndarray of shape (n_songs,)
            With ``scale="share"``, in [0, 1]: the share of training songs
            that lie closer to their neighbours; 0.99 reads "further out
            than 99% of what the model learned from". Training songs score
            low (an odd one out among them less so); noise or another genre
            high. With ``scale="distance"``, about 1 for a typical training
            song. NaN when fewer than two training songs were kept.
        """
        self.check_is_fitted()
        reference = getattr(self, "novelty_reference_", None)
        if reference is None:
            raise ValueError(
                f"{type(self).__name__} kept no training songs to compare with: it was "
                "fitted with novelty_songs=0, from a skorch Dataset, without its "
                "callbacks, or with a module that has no embed(x) or features(x) method "
                "giving the layer before its last"
            )
        if str(reference.get("space", "embedding")) == "softmax":  # a classifier's old reference
            embeddings = softmax(self._interval_outputs(X, "embedding"), axis=-1).mean(axis=1)
        else:
            embeddings = self.song_embeddings(X)
        return novelty_scores(reference, embeddings, scale=scale)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
