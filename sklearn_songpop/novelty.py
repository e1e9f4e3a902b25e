"""NoveltyReference: the training songs a network's novelty score compares with.

A skorch callback every song network carries by default: when training
ends, it embeds (up to ``novelty_songs``) of the songs just trained on and
keeps them, standardised, as the network's ``novelty_reference_``. The
arithmetic lives in :mod:`sklearn_songpop._novelty`; the network gives the
embeddings (:meth:`~sklearn_songpop.songnet.SongNet.song_embeddings`).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.callbacks import Callback
from skorch.dataset import get_len
from skorch.utils import is_dataset

from sklearn_songpop._novelty import fit_reference
from sklearn_songpop.store import StoreDataset

__all__ = ["NoveltyReference"]


class NoveltyReference(Callback):
    """Keep the embeddings of the training songs when training ends.

    Reads the network's ``novelty_songs`` (how many songs to keep at most, 0
    for none) and ``random_state`` (which songs, when there are more). Keeps
    none for songs given as a torch Dataset other than a feature store's, or
    for a module with no ``embed(x)`` or ``features(x)`` method.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import SpectrogramCNNRegressor
    >>> X = np.random.default_rng(0).standard_normal((6, 2, 8, 12)).astype("float32")
    >>> reg = SpectrogramCNNRegressor(max_epochs=1, novelty_songs=4, random_state=0)
    >>> reg.fit(X, np.arange(6.0)).novelty_reference_.embeddings.shape[0]
    4
    """

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Set ``net.novelty_reference_`` from the songs ``X`` just trained on."""
        keep = int(net.novelty_songs)
        embeds = any(hasattr(net.module_, name) for name in ("embed", "features"))
        if keep == 0 or (is_dataset(X) and not isinstance(X, StoreDataset)) or not embeds:
            net.novelty_reference_ = None
            return
        n = get_len(X)
        if n > keep:  # a random subset bounds the memory, whatever the number of songs
            rows = np.sort(check_random_state(net.random_state).choice(n, keep, False))
            X = torch.utils.data.Subset(X, rows) if is_dataset(X) else X[rows]
        net.novelty_reference_ = fit_reference(net.song_embeddings(X))
