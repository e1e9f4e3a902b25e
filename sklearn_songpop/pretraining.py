"""ContrastiveEncoder: song embeddings learned from unlabelled songs.

Two views of the same stretch of a song are a positive pair (or, with
``positives="song"``, any two intervals of one song); the other views of the
batch are the negatives (the recipe of Saeed, Grangier and
Zeghidour 2021, "Contrastive learning of general-purpose audio
representations", COLA, with the normalised temperature-scaled loss of SimCLR,
Chen et al. 2020, taken over every positive of an interval as in Khosla et
al. 2020). The network is the default preset's body with an embedding layer
and a projection head (:class:`~sklearn_songpop.nets.ContrastiveNet`); a
classifier or regressor starts from that body with ``init_from``. No label is
read anywhere here.
"""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet
from torch import nn
from torch.nn import functional as F

from sklearn_songpop._docstrings import shared_docstring
from sklearn_songpop.nets import ContrastiveNet
from sklearn_songpop.persistence import load_model
from sklearn_songpop.songnet import SongNet

__all__ = ["ContrastiveEncoder", "ContrastiveLoss", "contrastive_loss", "load_encoder",
           "make_probe"]


def contrastive_loss(z: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """The contrastive loss of a batch of songs, each with ``k`` views.

    Every view is an anchor; the other views of its song are its positives
    and every view of the other songs a negative. The loss of an anchor is
    the mean over its positives of ``-log softmax`` of the cosine similarity
    divided by ``temperature``, over every view but itself.

    Parameters
    ----------
    z : Tensor of shape (batch, k, dim)
        Projections of the views (intervals) of each song.
    temperature : float, default=0.2
        Divides the cosine similarities; smaller weighs the hardest negatives more.

    Returns
    -------
    Tensor
        The scalar mean loss over the anchors that have a positive; 0 (with
        a gradient) when none has (``k = 1``).

    Examples
    --------
    >>> import torch
    >>> same = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mixed = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    >>> bool(contrastive_loss(same) < contrastive_loss(mixed))
    True
    """
    b, k, d = z.shape
    z = F.normalize(z.reshape(b * k, d).float(), dim=1)
    song = torch.arange(b, device=z.device).repeat_interleave(k)
    itself = torch.eye(b * k, dtype=torch.bool, device=z.device)
    positive = (song[:, None] == song[None, :]) & ~itself
    n_positive = positive.sum(dim=1)
    anchors = n_positive > 0
    if not bool(anchors.any()):
        return (z * 0.0).sum()
    sim = (z @ z.T / float(temperature)).masked_fill(itself, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    per_anchor = log_prob.masked_fill(~positive, 0.0).sum(dim=1)
    return -(per_anchor[anchors] / n_positive[anchors]).mean()


class ContrastiveLoss(nn.Module):
    """:func:`contrastive_loss` as a torch module, the encoder's criterion.

    Parameters
    ----------
    temperature : float, default=0.2

    Examples
    --------
    >>> import torch
    >>> float(ContrastiveLoss()(torch.ones(3, 2, 4))) > 0
    True
    """

    def __init__(self, temperature: float = 0.2) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The loss of projections ``(batch, k, dim)``.

        Parameters
        ----------
        z : Tensor of shape (batch, k, dim)

        Returns
        -------
        Tensor
        """
        return contrastive_loss(z, self.temperature)


class ContrastiveEncoder(SongNet, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                         NeuralNet):
    """Learn song embeddings from unlabelled songs; a scikit-learn transformer.

    ``fit(X)`` trains the network so that the intervals of one song land
    close together and those of other songs apart; ``transform(X)`` returns
    each song's embedding, the mean of its intervals' embeddings. The body it
    learns starts a classifier or regressor through their ``init_from``.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=ContrastiveNet
        Reads ``(batch, 1, n_bins, n_frames)``; its ``forward`` gives the
        projections the loss compares and its ``embed`` the embeddings.
        ``embedding_dim`` and ``projection_dim`` are given to a class that
        takes them; its body's channels are ``module__channels``.
    criterion : torch loss class, default=ContrastiveLoss
        Takes the projections ``(batch, k, dim)``; ``temperature`` is given
        to it unless set as ``criterion__temperature``.
    embedding_dim : int, default=128
        Size of the song embeddings.
    projection_dim : int, default=64
        Size of the projection head's output, where the loss is computed.
    temperature : float, default=0.2
        Temperature of the loss.
    positives : {"interval", "song"}, default="interval"
        What makes a positive pair. ``"interval"``: two crops of one interval
        (random crops and masks of the same stretch of audio, as in COLA's
        segments of one clip); the other intervals of the song are
        negatives, so the encoder also keeps what changes within a song, such
        as a hook or a chorus heard in one interval and not in another.
        ``"song"``: any two intervals of a song, so the encoder keeps only
        what a song holds throughout (timbre, key, tempo) and is taught to
        ignore a hook that comes and goes. On generated songs, whose hits
        carry a hook in about half of their bars, ``"interval"`` gave a
        linear probe ROC AUC 0.95 where ``"song"`` gave 0.68 to 0.80 (see
        the user guide). ``"interval"`` needs ``crop_frames`` or masks, so
        that the two views differ.
    pooling : {"mean_std", "mean"}, default="mean_std"
        How :meth:`transform` makes one vector of a song's embeddings (those
        of the crops that tile each interval, as at prediction). ``"mean"``:
        their mean, ``embedding_dim`` values. ``"mean_std"``: their mean and
        their standard deviation, ``2 * embedding_dim`` values, as the
        statistics pooling of x-vector speaker embeddings (Snyder et al.
        2018); a song whose sound changes from one moment to the next (a
        hook in some bars, a chorus) then differs from one that stays the
        same, which a mean alone blurs. :meth:`transform_intervals` and the
        novelty score keep the means.
    lr : float, default=1e-3
    max_epochs : int, default=40
    batch_size : int, default=32
        Songs per batch; every other song of a batch is a negative, so
        larger batches make a harder task.
    freq_mask, time_mask : float, default=0.15
        SpecAugment (Park et al. 2019): during training, hide up to this share
        of the frequency bands (of the frames) of every interval behind its
        mean, ``n_masks`` times. On by default, so that one band or one
        moment alone does not tell a song's intervals from the others.
    gain_db : float, default=6.0
        A random level per interval, so loudness alone does not identify a song.
    n_init : int, default=1
        Networks trained from different starting weights (and orders of the
        songs); :meth:`fit` keeps the one whose training loss ends lowest (the
        mean over its last tenth of epochs), as
        :class:`~sklearn.cluster.KMeans` keeps its best ``n_init``. Each costs
        a whole training. Contrastive training lands in minima of different
        quality from one seed to the next, and the loss tells them apart
        without a label (see the user guide). ``partial_fit`` and a
        ``warm_start`` refit go on from the network kept.
    {shared}

    Attributes
    ----------
    n_features_out_ : int
        ``2 * embedding_dim`` with ``pooling="mean_std"``, else ``embedding_dim``.
    init_losses_ : ndarray of shape (n_init,)
        The final training loss of each of the ``n_init`` networks, in the
        order they were trained; the kept one is the smallest.
    {shared_attributes}

    Notes
    -----
    Songs need at least two intervals to make positive pairs; with one
    interval per song (``k = 1``) the two views of a song are two crops and
    augmentations of that interval, which teaches less. ``mixup`` must stay 0:
    mixing songs would blur which views belong together.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((12, 3, 16, 20)).astype("float32")
    >>> enc = ContrastiveEncoder(max_epochs=2, embedding_dim=8, random_state=0).fit(X)
    >>> enc.transform(X).shape  # the mean and the standard deviation of 8 dimensions
    (12, 16)
    >>> enc.set_params(pooling="mean").transform(X).shape
    (12, 8)
    >>> enc.get_feature_names_out()[:2].tolist()
    ['contrastiveencoder0', 'contrastiveencoder1']
    """

    _parameter_constraints: dict = {
        **SongNet._parameter_constraints,
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "projection_dim": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "positives": [StrOptions({"song", "interval"})],
        "pooling": [StrOptions({"mean_std", "mean"})],
        "n_init": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        module=ContrastiveNet,
        *,
        criterion=ContrastiveLoss,
        embedding_dim: int = 128,
        projection_dim: int = 64,
        temperature: float = 0.2,
        positives: str = "interval",
        pooling: str = "mean_std",
        lr: float = 1e-3,
        max_epochs: int = 40,
        batch_size: int = 32,
        freq_mask: float = 0.15,
        time_mask: float = 0.15,
        gain_db: float = 6.0,
        n_init: int = 1,
        **kwargs,
    ) -> None:
        super().__init__(module, criterion=criterion, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, freq_mask=freq_mask, time_mask=time_mask,
                         gain_db=gain_db, **kwargs)
        self.embedding_dim = embedding_dim
        self.projection_dim = projection_dim
        self.temperature = temperature
        self.positives = positives
        self.pooling = pooling
        self.n_init = n_init

    def __setstate__(self, state):
        # parameters added since an encoder was saved take the behaviour it was saved
        # with, so that get_params, clone and transform work on it as before
        state.setdefault("pooling", "mean")
        state.setdefault("n_init", 1)
        super().__setstate__(state)

    # ------------------------------------------------------------------ SongNet hooks
    def _module_defaults(self) -> dict:
        return {"embedding_dim": int(self.embedding_dim),
                "projection_dim": int(self.projection_dim)}

    def initialize_criterion(self):
        """Instantiate the loss with ``temperature``."""
        kwargs = self.get_params_for("criterion")
        kwargs.setdefault("temperature", float(self.temperature))
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def augment_batch(self, x: torch.Tensor, y: torch.Tensor):
        """The views of a batch: crops and augmentations of its intervals.

        With ``positives="interval"`` every interval becomes a group of two
        views of its own; so does the single interval of songs with ``k = 1``.

        Parameters
        ----------
        x : Tensor of shape (batch, k, n_bins, n_frames)
        y : Tensor
            skorch's placeholder targets, returned as they are.

        Returns
        -------
        x : Tensor of shape (groups, views, n_bins, crop)
            The loss takes the views of a group as positives.
        y : Tensor
        """
        if self.positives == "interval":
            x = x.reshape(-1, 1, *x.shape[2:])
        if x.shape[1] == 1:  # two views of the one interval, cropped and masked apart
            x = x.expand(-1, 2, -1, -1)
        return super().augment_batch(x, y)

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        """The contrastive loss of the projections; ``y_true`` is ignored.

        Parameters
        ----------
        y_pred : Tensor of shape (batch, k, projection_dim)
        y_true : ignored
        X : ignored
        training : bool

        Returns
        -------
        Tensor
        """
        return self.criterion_(y_pred)

    def _check_params(self) -> None:
        super()._check_params()
        if self.mixup:
            raise ValueError(
                f"mixup={self.mixup!r}: mixing songs blurs which intervals belong together; "
                "ContrastiveEncoder needs mixup=0"
            )

    # ------------------------------------------------------------------ public
    def fit(self, X, y=None, **fit_params):
        """Learn embeddings from the songs' intervals; no labels are used.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)
            Also ``(n_songs, n_bins, n_frames)`` (k = 1) or 2-D (see ``input_shape``).
        y : ignored
        **fit_params
            Passed to skorch.

        Returns
        -------
        self
        """
        self._check_params()
        n_init = self.n_init
        if n_init == 1 or (self.warm_start and self.initialized_):
            super().fit(X, None, **fit_params)
            self.init_losses_ = np.array([self._final_loss()])
            return self
        # each start is a clone with a seed of its own, drawn from random_state
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=n_init)
        best, losses = None, []
        for seed in seeds:
            net = clone(self).set_params(n_init=1, random_state=int(seed))
            net.fit(X, None, **fit_params)
            losses.append(net._final_loss())
            if best is None or losses[-1] < min(losses[:-1]):
                best = net
        params = {"n_init": n_init, "random_state": self.random_state}
        vars(self).update(vars(best))
        vars(self).update(params)
        self.init_losses_ = np.array(losses)
        return self

    def _final_loss(self) -> float:
        """The mean training loss over the last tenth of the epochs (at least one)."""
        losses = [row["train_loss"] for row in self.history if "train_loss" in row]
        if not losses:
            return float("nan")
        return float(np.mean(losses[-max(1, len(losses) // 10):]))

    def transform(self, X) -> np.ndarray:
        """Song embeddings, pooled as ``pooling`` says.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs, embedding_dim) or (n_songs, 2 * embedding_dim), float32
            The mean of each song's interval embeddings, followed with
            ``pooling="mean_std"`` by the standard deviation of its crop
            embeddings.
        """
        pooling = self._pooling()
        if pooling == "mean":
            return self.transform_intervals(X).mean(axis=1)
        moments = self._crop_moments(X).astype(np.float64)
        d = int(self.embedding_dim)
        means, within = moments[..., :d], moments[..., d:]
        # the variance over all crops of a song: within its intervals, plus between them
        std = np.sqrt(within.mean(axis=1) + means.var(axis=1))
        return np.concatenate([means.mean(axis=1), std], axis=1).astype(np.float32)

    def _pooling(self) -> str:
        # checked again here: set_params(pooling=...) after fit reaches transform unchecked
        validate_parameter_constraints({"pooling": self._parameter_constraints["pooling"]},
                                       {"pooling": self.pooling}, type(self).__name__)
        return self.pooling  # __setstate__ gives encoders saved before it "mean"

    def _crop_moments(self, X) -> np.ndarray:
        """Mean and variance of the crop embeddings of every interval, ``(n, k, 2 * dim)``."""
        return np.asarray(self._interval_outputs(X, "moments"), dtype=np.float32)

    def transform_intervals(self, X) -> np.ndarray:
        """The embedding of every interval.

        Parameters
        ----------
        X : array-like of shape (n_songs, k, n_bins, n_frames)

        Returns
        -------
        ndarray of shape (n_songs, k, embedding_dim), float32
        """
        return np.asarray(self._interval_outputs(X, "embedding"), dtype=np.float32)

    @available_if(lambda self: False)
    def predict_proba(self, X):  # pragma: no cover - never available
        """Not available: an encoder gives embeddings (:meth:`transform`)."""
        raise AttributeError("predict_proba")

    @available_if(lambda self: False)
    def predict(self, X):  # pragma: no cover - never available
        """Not available: an encoder gives embeddings (:meth:`transform`)."""
        raise AttributeError("predict")

    @property
    def _n_features_out(self) -> int:
        return int(self.embedding_dim) * (2 if self._pooling() == "mean_std" else 1)

    @property
    def n_features_out_(self) -> int:
        self.check_is_fitted()
        return self._n_features_out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float32"]  # the network computes in float32
        return tags


ContrastiveEncoder.__doc__ = shared_docstring(
    ContrastiveEncoder.__doc__,
    own=("lr", "max_epochs", "batch_size", "freq_mask", "time_mask", "gain_db"),
)


def make_probe(encoder, task: str = "classification", C: float = 0.1, random_state=None):
    """A linear model on the song embeddings of an encoder fitted beforehand, kept frozen.

    The encoder is wrapped in scikit-learn's
    :class:`~sklearn.frozen.FrozenEstimator`: fitting the probe (in
    ``cross_validate`` or ``GridSearchCV`` too) fits only the scaler and the
    linear model, so an encoder pretrained on many unlabelled songs is used
    as it is in every fold. That is leak-free as long as the encoder never
    saw the test songs' labels, which it cannot: it reads no labels.

    Parameters
    ----------
    encoder : fitted ContrastiveEncoder or Pipeline
        An encoder, or a pipeline ending in one (what ``songpop pretrain``
        saves and :func:`~sklearn_songpop.load_encoder` loads). A pipeline's
        front end (sampler and spectrogram) is copied in front, unfitted (it
        learns nothing), so the probe takes paths or waveforms and
        :func:`~sklearn_songpop.evaluate` decodes each song once.
    task : {"classification", "regression"}, default="classification"
        A balanced logistic regression, or a ridge regression with its
        penalty chosen by ``RidgeCV``.
    C : float, default=0.1
        Inverse penalty of the logistic regression (a strong one: the probe
        learns from few labelled songs).
    random_state : int, RandomState instance or None, default=None
        Given to the logistic regression.

    Returns
    -------
    Pipeline
        Steps (``"intervals"``, ``"spectrogram"``,) ``"encoder"``, ``"scale"``
        and ``"classifier"`` or ``"regressor"``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((12, 3, 16, 20)).astype("float32")
    >>> enc = ContrastiveEncoder(max_epochs=1, embedding_dim=8, random_state=0).fit(X)
    >>> probe = make_probe(enc).fit(X, [0, 1] * 6)
    >>> probe.predict_proba(X).shape, [name for name, _ in probe.steps]
    ((12, 2), ['encoder', 'scale', 'classifier'])
    """
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    front = []
    if isinstance(encoder, Pipeline):
        front = [(name, clone(step)) for name, step in encoder.steps[:-1]]
        encoder = encoder.steps[-1][1]
    if not isinstance(encoder, ContrastiveEncoder) or not hasattr(encoder, "input_shape_"):
        raise ValueError(
            "make_probe needs a fitted ContrastiveEncoder, or a pipeline ending in one; got "
            f"{'an unfitted ' if isinstance(encoder, ContrastiveEncoder) else ''}"
            f"{type(encoder).__name__}"
        )
    head = (("regressor", RidgeCV(alphas=np.logspace(-1, 4, 11))) if task == "regression"
            else ("classifier", LogisticRegression(C=C, class_weight="balanced", max_iter=2000,
                                                   random_state=random_state)))
    return Pipeline([*front, ("encoder", FrozenEstimator(encoder)), ("scale", StandardScaler()),
                     head])


def load_encoder(path: str | os.PathLike):
    """Load a fitted pretraining pipeline (``songpop pretrain``'s file) and check it.

    Parameters
    ----------
    path : str or os.PathLike
        A file saved with :func:`~sklearn_songpop.save_model` (or joblib) holding a fitted
        pipeline whose last step is a
        :class:`~sklearn_songpop.ContrastiveEncoder`, or such an encoder alone.

    Returns
    -------
    estimator
        What the file holds; its ``transform`` gives song embeddings.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    ValueError
        When the file is not a model, or holds something else than a fitted
        encoder (a classifier, say).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn_songpop import save_model
    >>> path = os.path.join(tempfile.mkdtemp(), "model.joblib")
    >>> save_model(DummyClassifier().fit([[0], [1]], [0, 1]), path)
    >>> load_encoder(path)
    Traceback (most recent call last):
    ...
    ValueError: ...model.joblib: holds a DummyClassifier, not a pretrained encoder ...
    """
    model = load_model(path)
    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if not isinstance(last, ContrastiveEncoder):
        raise ValueError(
            f"{os.fspath(path)}: holds a {type(last).__name__}, not a pretrained encoder "
            "(make one with songpop pretrain)"
        )
    if not getattr(last, "initialized_", False) or not hasattr(last, "input_shape_"):
        raise ValueError(f"{os.fspath(path)}: the encoder in it is not fitted")
    return model
