"""Model selection on songs while a network trains: the validation split, its score, stopping.

skorch's defaults judge epochs by the loss over intervals on a validation
split of any size. With a few hundred songs that picks epochs on noise: a 20%
split of 160 songs holds about seven popular ones. The pieces here judge
epochs by a song-level score, never keep an epoch that puts (nearly) every
song in one class, and make no split at all when the split would be too small
to be worth the songs it takes from training.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score
from sklearn.utils.multiclass import type_of_target
from skorch.callbacks import Callback, EarlyStopping, PrintLog
from skorch.dataset import ValidSplit
from skorch.utils import Ansi, to_numpy

__all__ = [
    "EpochProgress",
    "ONE_CLASS_SHARE", "CosineSchedule", "PlainPrintLog", "SongEarlyStopping", "SongValidSplit",
    "song_roc_auc", "song_spearman",
]

#: A model that puts at least this share of the songs in one class is degenerate.
ONE_CLASS_SHARE = 0.95


def song_roc_auc(net, X, y) -> float:
    """Song-level ROC AUC of a fitted classifier, 0 for a model stuck on one class.

    A scorer for skorch's ``EpochScoring``: ``net.predict_proba`` gives one
    row per song. When the predicted classes put at least
    :data:`ONE_CLASS_SHARE` of the songs in one class, the score is 0, so such
    an epoch is never the best one while any other epoch ranks songs at all.

    Parameters
    ----------
    net : fitted classifier with ``predict_proba``
    X : songs
    y : array-like of shape (n_songs,)
        Encoded class indices ``0 .. n_classes - 1``.

    Returns
    -------
    float
        ROC AUC (one-vs-rest, averaged, for more than two classes); NaN when
        ``y`` holds one class.

    Examples
    --------
    >>> import numpy as np
    >>> class Net:
    ...     def __init__(self, p): self.p = np.asarray(p)
    ...     def predict_proba(self, X): return np.stack([1 - self.p, self.p], axis=1)
    >>> y = np.array([0, 0, 1, 1])
    >>> song_roc_auc(Net([0.1, 0.6, 0.4, 0.9]), None, y)
    0.75
    >>> song_roc_auc(Net([0.1, 0.2, 0.3, 0.4]), None, y)  # every song predicted 0
    0.0
    """
    y = to_numpy(y).astype(int).ravel()
    proba = np.asarray(net.predict_proba(X))
    if len(np.unique(y)) < 2:
        return float("nan")
    shares = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1]) / len(y)
    if shares.max() >= ONE_CLASS_SHARE:
        return 0.0
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    try:
        return float(roc_auc_score(y, proba, multi_class="ovr",
                                   labels=np.arange(proba.shape[1])))
    except ValueError:  # a class missing from the validation songs: no one-vs-rest score
        return float("nan")


def song_spearman(net, X, y) -> float:
    """Song-level Spearman rank correlation of a fitted regressor, 0 for a constant model.

    A scorer for skorch's ``EpochScoring``, the regressor's counterpart of
    :func:`song_roc_auc`: it asks how well the predictions rank the songs,
    which is what picking hits needs, and it is blind to any increasing
    rescaling of the target (the standardised targets the regressor trains
    on rank as the raw ones). A model that predicts the same number for every
    song scores 0, so such an epoch is never the best one.

    Parameters
    ----------
    net : fitted regressor with ``predict``
    X : songs
    y : array-like of shape (n_songs,)

    Returns
    -------
    float
        Spearman's rho; NaN when ``y`` is constant.

    Examples
    --------
    >>> import numpy as np
    >>> class Net:
    ...     def __init__(self, p): self.p = np.asarray(p)
    ...     def predict(self, X): return self.p
    >>> y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> round(song_spearman(Net([0.1, 0.3, 0.2, 0.9]), None, y), 3)
    0.8
    >>> song_spearman(Net([0.5, 0.5, 0.5, 0.5]), None, y)
    0.0
    """
    y = to_numpy(y).astype(float).ravel()
    pred = np.asarray(net.predict(X), dtype=float).ravel()
    if np.ptp(y) == 0:
        return float("nan")
    if np.ptp(pred) == 0:
        return 0.0
    return float(spearmanr(pred, y).statistic)


class SongEarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` on a song-level score, idle when there is no validation split.

    Parameters
    ----------
    monitor : str, default="valid_song_auc"
        History key to watch; the classifier records ``valid_song_auc``
        (:func:`song_roc_auc`) and the regressor ``valid_song_rho``
        (:func:`song_spearman`) whenever they have a validation split.
    patience : int, default=8
        Epochs without improvement before training stops.
    lower_is_better : bool, default=False
    load_best : bool, default=True
        Restore the weights of the best epoch at the end of training.
    **kwargs
        Other parameters of ``skorch.callbacks.EarlyStopping``.

    Notes
    -----
    When the epoch's history has no ``monitor`` (the training split made no
    validation part, see :class:`SongValidSplit`), the callback does nothing
    and training runs every epoch.

    Examples
    --------
    >>> SongEarlyStopping(patience=5).monitor
    'valid_song_auc'
    """

    def __init__(
        self, monitor: str = "valid_song_auc", patience: int = 8, lower_is_better: bool = False,
        load_best: bool = True, **kwargs,
    ) -> None:
        super().__init__(monitor=monitor, patience=patience, lower_is_better=lower_is_better,
                         load_best=load_best, **kwargs)

    def on_epoch_end(self, net, **kwargs):
        """Count a miss or keep the weights, when the epoch was scored.

        Parameters
        ----------
        net : skorch NeuralNet
        **kwargs
            skorch's callback arguments.
        """
        if self.monitor not in net.history[-1]:
            return
        super().on_epoch_end(net, **kwargs)


def _is_continuous(y: np.ndarray) -> bool:
    return type_of_target(y) == "continuous"


class SongValidSplit(ValidSplit):
    """skorch's ``ValidSplit`` that makes no split when the validation part would be too small.

    Rows are songs, so the split keeps a song's intervals together. When the
    validation part would hold fewer than ``min_songs`` songs of the rarest
    class (or, for a continuous target, fewer than ``min_songs`` songs), it
    returns every song for training and no validation part: too few songs
    choose an epoch by chance, and they are worth more as training data. A
    continuous target is never stratified.

    Parameters
    ----------
    cv : float or int, default=0.2
        Share of the songs for validation (a float), or a number of folds
        whose first is used (an int), as in ``ValidSplit``.
    stratified : bool, default=True
        Keep the class shares in both parts.
    random_state : int or None, default=0
        Seed of the split (for a float ``cv``).
    min_songs : int, default=25
        The fewest songs of the rarest class that make the split worth it.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> y = np.array([0] * 78 + [1] * 22)
    >>> train, valid = SongValidSplit(min_songs=4)(Dataset(np.zeros((100, 1)), y), y)
    >>> len(train), len(valid)
    (80, 20)
    >>> train, valid = SongValidSplit(min_songs=25)(Dataset(np.zeros((100, 1)), y), y)
    >>> len(train), valid is None
    (100, True)
    """

    def __init__(
        self, cv: float | int = 0.2, stratified: bool = True, random_state: int | None = 0,
        min_songs: int = 25,
    ) -> None:
        # ValidSplit refuses a random_state beside a number of folds, where it has no use
        super().__init__(cv=cv, stratified=stratified,
                         random_state=random_state if self._is_float(cv) else None)
        if not isinstance(min_songs, Integral) or min_songs < 0:
            raise ValueError(f"min_songs must be a non-negative integer, got {min_songs!r}")
        self.min_songs = min_songs

    def _valid_share(self) -> float:
        if self._is_float(self.cv):
            return float(self.cv)
        if isinstance(self.cv, Integral):
            return 1.0 / self.cv
        return 1.0

    def expected_valid_songs(self, y) -> float:
        """Songs of the rarest class (or all songs, for numbers) the split would hold.

        Parameters
        ----------
        y : array-like of shape (n_songs,)

        Returns
        -------
        float
        """
        y = to_numpy(y).ravel()
        if self.stratified and not _is_continuous(y):
            counts = np.unique(y, return_counts=True)[1]
            return float(counts.min()) * self._valid_share()
        return len(y) * self._valid_share()

    def __call__(self, dataset, y=None, groups=None):
        """Split ``dataset`` into training and validation songs, or return ``(dataset, None)``.

        Parameters
        ----------
        dataset : skorch Dataset
        y : array-like of shape (n_songs,), optional
        groups : array-like of shape (n_songs,), optional
            Passed to the splitter, as in ``ValidSplit``.

        Returns
        -------
        dataset_train, dataset_valid or None
        """
        if y is not None and self.expected_valid_songs(y) < self.min_songs:
            return dataset, None
        if y is not None and self.stratified and _is_continuous(to_numpy(y).ravel()):
            plain = ValidSplit(self.cv, stratified=False, random_state=self.random_state)
            return plain(dataset, y, groups)
        return super().__call__(dataset, y, groups)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(cv={self.cv!r}, stratified={self.stratified!r}, "
                f"random_state={self.random_state!r}, min_songs={self.min_songs!r})")


class CosineSchedule(Callback):
    """Anneal the learning rate from ``lr`` towards ``final_share * lr`` along half a cosine.

    The length of the schedule is the net's ``max_epochs`` at the start of
    training, so a grid over ``max_epochs`` needs no other change. A training
    that keeps its last epoch (no validation split) ends on small steps, where
    the weights move little from one batch to the next; that is what keeps two
    seeds, or two neighbouring epochs, from landing far apart (Loshchilov and
    Hutter 2017, "SGDR").

    Parameters
    ----------
    final_share : float, default=0.0
        Where the rate would arrive one epoch after the last, as a share of
        ``lr`` (as torch's ``CosineAnnealingLR`` with ``T_max=max_epochs``).

    Examples
    --------
    >>> [round(CosineSchedule().lr_at(epoch, 4, 1.0), 3) for epoch in range(4)]
    [1.0, 0.854, 0.5, 0.146]
    """

    def __init__(self, final_share: float = 0.0) -> None:
        self.final_share = final_share

    def lr_at(self, epoch: int, n_epochs: int, lr: float) -> float:
        """Learning rate of ``epoch`` (from 0) of ``n_epochs``.

        Parameters
        ----------
        epoch : int
        n_epochs : int
        lr : float
            The starting rate.

        Returns
        -------
        float
        """
        progress = epoch / max(1, n_epochs)
        low = self.final_share * lr
        return low + (lr - low) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def on_train_begin(self, net, **kwargs):
        """Note the starting rate and the number of epochs.

        Parameters
        ----------
        net : skorch NeuralNet
        **kwargs
            skorch's callback arguments.
        """
        if not 0.0 <= self.final_share <= 1.0:
            raise ValueError(f"final_share must be in [0, 1], got {self.final_share!r}")
        self.epochs_ = int(net.max_epochs)
        self.start_epoch_ = len(net.history)
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_epoch_begin(self, net, **kwargs):
        """Set this epoch's learning rate.

        Parameters
        ----------
        net : skorch NeuralNet
        **kwargs
            skorch's callback arguments.
        """
        epoch = len(net.history) - 1 - self.start_epoch_
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = self.lr_at(epoch, self.epochs_, base)

    def on_train_end(self, net, **kwargs):
        """Give the optimizer its starting rates back, for a later ``partial_fit``.

        Parameters
        ----------
        net : skorch NeuralNet
        **kwargs
            skorch's callback arguments.
        """
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = base


class PlainPrintLog(PrintLog):
    """skorch's table of epochs without its colour codes, for a log file or a pipe.

    skorch colours each column's best value with terminal escape codes, which
    a file keeps as noise; this prints the same table in plain text.

    Examples
    --------
    >>> PlainPrintLog().format_row({"loss": 0.5, "loss_best": True}, "loss", "\x1b[35m")
    '0.5000'
    """

    def format_row(self, row, key, color):
        """The value of ``key`` in ``row``, formatted, without colour."""
        return super().format_row(row, key, "").replace(Ansi.ENDC.value, "")


class EpochProgress(Callback):
    """A progress bar over a fit's epochs (not its batches), on standard error.

    skorch's ``ProgressBar`` counts the batches of each epoch, which a person
    waiting for a fit of 40 epochs reads as the wrong thing; this counts epochs
    and shows the last training loss.

    Parameters
    ----------
    desc : str, default="epochs"
        The bar's label.
    """

    def __init__(self, desc: str = "epochs"):
        self.desc = desc

    def on_train_begin(self, net, **kwargs):
        """Open the bar for ``net.max_epochs`` epochs."""
        from tqdm.auto import tqdm

        # an epoch takes seconds: draw every one (tqdm would skip those within 0.1 s)
        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, unit="epoch", leave=False,
                         mininterval=0)

    def on_epoch_end(self, net, **kwargs):
        """Advance the bar by one epoch and show its training loss."""
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        """Close the bar; a saved model keeps no terminal state."""
        self.bar_.close()
        del self.bar_
