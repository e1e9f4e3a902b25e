"""The parameters and attributes every song network documents, filled into the
subclasses' docstrings, as skorch fills its own from ``NeuralNet.__doc__``."""

from __future__ import annotations

import textwrap

__all__ = ["SHARED_ATTRIBUTES_DOC", "SHARED_PARAMETERS_DOC", "shared_docstring"]

#: The parameters every song network shares, for the subclasses' docstrings.
SHARED_PARAMETERS_DOC = """\
optimizer : torch optimizer class, default=torch.optim.Adam
lr : float, default=1e-3
max_epochs : int, default=20
batch_size : int, default=16
    Songs per batch; a batch holds ``batch_size * k`` intervals.
train_split : callable or None, default=None
    skorch's internal validation split (for early stopping and the
    ``valid_*`` scores), e.g. :class:`~sklearn_songpop.SongValidSplit`. It
    splits rows, which are songs, so no song has intervals on both sides.
    None trains on everything.
callbacks : list or None, default=None
    skorch callbacks (``EarlyStopping``, ``Checkpoint``, LR schedulers...).
input_shape : tuple of int or None, default=None
    How to read a 2-D ``X`` of flattened spectrograms: ``(n_bins,
    n_frames)`` for one interval per row, or ``(k, n_bins, n_frames)``.
    None reads a 2-D row of ``d`` values as one ``1 x d`` spectrogram.
random_state : int, RandomState instance or None, default=None
    Seeds initialisation, shuffling, crops, augmentation and dropout; the
    global torch seed is left as it was. On the CPU, the same seed gives the
    same model.
fast_path : "auto", bool, default="auto"
    On the CPU, compute in bfloat16 (autocast) with channels-last tensors.
    ``"auto"`` uses it where the CPU has native bfloat16 (AVX512-BF16 or
    AMX); weights and the loss stay float32.
device : str, default="cpu"
    ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``), or ``"auto"`` for a GPU when
    there is one.
crop_frames : int or None, default=None
    Train on a random run of this many frames of every interval, drawn
    afresh for each batch, so every epoch sees other audio of each song; at
    prediction an interval's output is the mean over crops that tile it with
    about half a crop of overlap (the short-chunk recipe of Won et al. 2020,
    "Evaluation of CNN-based automatic music tagging models"). None trains
    and predicts on whole intervals.
freq_mask, time_mask : float, default=0.0
    SpecAugment (Park et al. 2019): during training, hide up to this share
    of the frequency bands (of the frames) of every interval behind its
    mean, ``n_masks`` times. 0 turns it off.
n_masks : int, default=1
    Masks of each kind per interval.
gain_db : float, default=0.0
    During training, add a random level in ``[-gain_db, gain_db]`` dB to
    every interval (for spectrograms in decibels). 0 turns it off.
filter_db : float, default=0.0
    During training, cut every interval's frequency axis into four random
    bands and add a random level in ``[-filter_db, filter_db]`` dB to each,
    as another equaliser would (FilterAugment, Nam et al. 2022; see
    :func:`~sklearn_songpop.augment.random_filter`). 0 turns it off.
mixup : float, default=0.0
    During training, mix every song with another of the batch, targets too,
    with a weight drawn from Beta(mixup, mixup) (Zhang et al. 2018). 0 turns
    it off.
init_from : ContrastiveEncoder, fitted network, Pipeline, path or None, default=None
    Start the network's body (every layer but the last) from a fitted
    :class:`~sklearn_songpop.ContrastiveEncoder`, or from another fitted
    song network, a pipeline ending in either, a
    :class:`~sklearn.frozen.FrozenEstimator` of one, or the path of a file
    saved with joblib or :func:`~sklearn_songpop.save_model`; the last layer
    starts fresh. Inside ``GridSearchCV`` or ``cross_validate``, give a path
    or a ``FrozenEstimator``: ``clone`` turns a plain estimator given as a
    parameter into an unfitted copy. The module must be a
    :class:`~sklearn_songpop.nets.SongpopCNN` with the same ``channels``.
freeze_epochs : int, default=0
    With ``init_from``, train only the last layer for this many epochs (the
    body's weights and batch-norm statistics stay as they were loaded), then
    everything.
novelty_songs : int, default=10000
    Training songs whose embeddings are kept at the end of ``fit`` for
    :meth:`novelty` (a random subset when there are more); 0 keeps none.
    The cost is ``novelty_songs * d * 4`` bytes for embeddings of ``d``
    values: 5 MB for the default network (``d = 128``) at 10,000 songs,
    whatever the number of training songs.
distributed : bool, default=False
    Train one model over the processes that ``torchrun`` started (on one
    machine or several), with PyTorch's DistributedDataParallel: each
    process trains on its share of every batch and the gradients are
    averaged before each step (see :mod:`sklearn_songpop.distributed`).
    ``batch_size`` stays the whole batch, so the same parameters train the
    same recipe on any number of processes (a contrastive encoder's
    negatives are the other songs of its process's share). Every process
    ends with the same model; save it from one.
verbose : int, default=0
    skorch's epoch table when 1.
**kwargs
    Any other skorch parameter (``iterator_train__num_workers``,
    ``module__channels``, ``optimizer__weight_decay``, ...)."""


#: The fitted attributes every song network has, for the subclasses' docstrings.
SHARED_ATTRIBUTES_DOC = """\
input_shape_ : tuple of int
    ``(k, n_bins, n_frames)`` of the training songs.
n_features_in_ : int
    Length of the second axis of the ``X`` given to ``fit``.
module_, criterion_, optimizer_, history_ :
    skorch's fitted components and training history.
novelty_reference_ : Bunch or None
    What :meth:`novelty` compares with: the standardised embeddings of (up
    to ``novelty_songs``) training songs and their own distances to their
    nearest neighbours; None with ``novelty_songs=0``."""


def _drop_entries(section: str, names: tuple[str, ...]) -> str:
    """A numpydoc section without the entries that name any of ``names``."""
    entries, current = [], []
    for line in section.splitlines():
        if line and not line.startswith(" ") and current:
            entries.append(current)
            current = []
        current.append(line)
    entries.append(current)
    kept = [e for e in entries
            if not {n.strip() for n in e[0].split(":")[0].split(",")} & set(names)]
    return "\n".join(line for entry in kept for line in entry)


def shared_docstring(doc: str, own: tuple[str, ...] = ()) -> str:
    """``doc`` with ``{shared}`` and ``{shared_attributes}`` filled in, for a subclass.

    Parameters
    ----------
    doc : str
        A class docstring whose Parameters and Attributes sections hold the
        placeholders on lines of their own, indented by four spaces.
    own : tuple of str, default=()
        Parameters the subclass documents itself (with its own defaults):
        their shared entries are left out.

    Returns
    -------
    str

    Examples
    --------
    >>> shared_docstring("Attributes\\n    {shared_attributes}").splitlines()[1]
    '    input_shape_ : tuple of int'
    >>> "lr : float" in shared_docstring("    {shared}", own=("lr",))
    False
    """
    shared = _drop_entries(SHARED_PARAMETERS_DOC, own)
    return (doc.replace("    {shared}", textwrap.indent(shared, "    "))
            .replace("    {shared_attributes}", textwrap.indent(SHARED_ATTRIBUTES_DOC, "    ")))
