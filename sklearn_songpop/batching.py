"""How a song network's batches are drawn: the order of the songs, its share in each
process of a data-parallel run, and a feature store read ahead in a thread.

A network trained from arrays in memory takes them through torch's
``DataLoader``. From a :class:`~sklearn_songpop.store.FeatureStore` the songs
come through :class:`StoreLoader`: a thread maps (or reads and decompresses)
the chunks that the next batches need while the network trains on the
present one, and hands over float16 batches, which the network turns into
float32 on its own device (half the bytes to copy to a GPU).

In a data-parallel run every process draws the same order of songs from a
generator seeded alike, cuts it into the same batches as one process would,
and trains on its share of each batch (:class:`ShardedBatchSampler`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.utils.data import BatchSampler, RandomSampler, Sampler, SequentialSampler

from sklearn_songpop.store import (
    ChunkShuffleSampler,
    StoreDataset,
    store_items,
    store_layout,
)

__all__ = ["ShardedBatchSampler", "StoreLoader", "batch_sampler"]


class ShardedBatchSampler(Sampler):
    """One process's share of each batch, cut from an order that every process draws alike.

    The order is cut into batches of ``batch_size`` songs, as one process
    would train on them, and process ``rank`` of ``world_size`` takes the
    songs ``rank, rank + world_size, ...`` of each batch. So every process
    takes as many steps, each step trains on the same songs as one process
    would (summed over the processes), and an epoch visits every song once.
    A last batch of fewer songs than processes is left out, as no process
    may train on none.

    Parameters
    ----------
    sampler : Sampler of int
        The order of the songs; it must be the same in every process (seed
        its generator alike).
    batch_size : int
        Songs of a whole batch, over all processes.
    rank, world_size : int
        This process and the number of processes.

    Examples
    --------
    >>> from torch.utils.data import SequentialSampler
    >>> [list(ShardedBatchSampler(SequentialSampler(range(7)), 4, rank, 2)) for rank in (0, 1)]
    [[[0, 2], [4, 6]], [[1, 3], [5]]]
    """

    def __init__(self, sampler: Sampler, batch_size: int, rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank!r}")
        if batch_size < world_size:
            raise ValueError(
                f"batch_size={batch_size} is the whole batch, split over {world_size} "
                f"processes: give each at least one song (batch_size >= {world_size})"
            )
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.rank = int(rank)
        self.world_size = int(world_size)

    def _batches(self) -> Iterator[list[int]]:
        for batch in BatchSampler(self.sampler, self.batch_size, drop_last=False):
            if len(batch) >= self.world_size:
                yield batch

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches():
            yield batch[self.rank::self.world_size]

    def __len__(self) -> int:
        n, size = len(self.sampler), self.batch_size
        return n // size + (n % size >= self.world_size)


def batch_sampler(
    dataset,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Sampler:
    """The batches of an epoch over ``dataset``, as lists of its positions.

    Parameters
    ----------
    dataset : torch Dataset
        A store's songs (:class:`~sklearn_songpop.store.StoreDataset`, or a
        Subset of one) are shuffled a few chunks at a time
        (:class:`~sklearn_songpop.store.ChunkShuffleSampler`); any other
        dataset's songs all at once.
    batch_size : int
        Songs a batch, over all processes.
    shuffle : bool
        False keeps the dataset's order.
    generator : torch.Generator or None, default=None
        Draws the order; None draws from torch's global generator.
    rank, world_size : int, default=0, 1
        With more than one process, this process's share of each batch
        (:class:`ShardedBatchSampler`).

    Returns
    -------
    Sampler of lists of int

    Examples
    --------
    >>> list(batch_sampler(range(5), 2, shuffle=False))
    [[0, 1], [2, 3], [4]]
    """
    layout = store_layout(dataset)
    if not shuffle:
        order = SequentialSampler(dataset)
    elif layout is not None:
        order = ChunkShuffleSampler(*layout, generator=generator)
    else:
        order = RandomSampler(dataset, generator=generator)
    if world_size > 1:
        return ShardedBatchSampler(order, batch_size, rank, world_size)
    return BatchSampler(order, batch_size, drop_last=False)


def _base(dataset) -> tuple[StoreDataset, np.ndarray]:
    """:func:`~sklearn_songpop.store.store_items`, or a clear error for another dataset."""
    items = store_items(dataset)
    if items is None:
        raise TypeError(f"StoreLoader reads a StoreDataset (or a Subset of one), "
                        f"not {type(dataset).__name__}")
    return items


class StoreLoader:
    """Batches of a store's songs, its chunks read and decompressed ahead in a thread.

    An iterable over ``(X, y)`` pairs as torch's ``DataLoader`` gives them:
    ``X`` a float16 tensor ``(batch, k, n_bins, n_frames)`` as stored, ``y``
    the songs' targets (zeros without targets). At the start of an epoch the
    batch sampler's order is drawn and the reads it needs are planned: each
    chunk is read when the first batch that needs it comes near and kept
    until the last batch that needs it, at most ``cache_chunks`` of the
    dataset at once (beyond that, the chunk needed furthest ahead is dropped
    and read again when its turn comes). A thread reads up to
    ``read_ahead`` chunks ahead while the network trains; mapping or reading
    a file and decompressing it release the GIL.

    Parameters
    ----------
    dataset : StoreDataset or Subset of one
    batch_sampler : Sampler of lists of int
        Positions in ``dataset`` of each batch (:func:`batch_sampler`).
    read_ahead : int, default=2
        Chunks read ahead of the batch the network trains on; 0 reads each
        when it is needed, in the calling thread.
    pin_memory : bool, default=False
        Put each batch in page-locked memory, so that copying it to a GPU
        with ``non_blocking=True`` overlaps the step.
    """

    def __init__(self, dataset, batch_sampler: Sampler, *, read_ahead: int = 2,
                 pin_memory: bool = False) -> None:
        self.dataset = dataset
        self.batch_sampler = batch_sampler
        self.read_ahead = int(read_ahead)
        self.pin_memory = bool(pin_memory)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # torch's DataLoader draws its workers' base seed from the global generator as
        # it starts an epoch; draw it too, so that a store and the same arrays in memory
        # leave the crops and masks that follow the same, and train the same network
        torch.empty((), dtype=torch.int64).random_()
        base, positions = _base(self.dataset)
        size = base.store.chunk_songs
        batches = [positions[np.asarray(b, dtype=np.int64)] for b in self.batch_sampler]
        needs = [np.unique(base.rows[b] // size).tolist() for b in batches]
        reads, drops = _plan_reads(needs, base.cache_chunks)
        pool = ThreadPoolExecutor(1, thread_name_prefix="songpop-store") \
            if self.read_ahead > 0 else None
        pending: deque = deque()
        upcoming = iter(reads)

        def top_up() -> None:
            while pool is not None and len(pending) < self.read_ahead:
                c = next(upcoming, None)
                if c is None:
                    return
                pending.append(pool.submit(base.store.read_chunk, c))

        held: dict[int, torch.Tensor] = {}
        try:
            for items, need, (before, after) in zip(batches, needs, drops):
                for c in before:
                    del held[c]
                for c in need:
                    if c not in held:
                        top_up()
                        chunk = (pending.popleft().result() if pool is not None
                                 else base.store.read_chunk(next(upcoming)))
                        held[c] = torch.from_numpy(chunk)
                rows = base.rows[items].tolist()
                x = torch.stack([held[r // size][r % size] for r in rows])
                y = (torch.zeros(len(items), dtype=torch.int64) if base.y is None
                     else torch.as_tensor(base.y[items]))
                for c in after:
                    del held[c]
                top_up()  # read on while the network trains on this batch
                yield (x.pin_memory() if self.pin_memory else x), y
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)


def _plan_reads(needs: Sequence[list[int]], limit: int) -> tuple[list[int], list]:
    """The chunks to read, in order, and the chunks to drop before and after each batch.

    Each chunk is kept from its first use to its last; when ``limit`` chunks
    are held, the one needed furthest ahead is dropped first (and read again
    when needed). Chunks the batch itself needs are never dropped for it.
    """
    uses: dict[int, deque] = {}
    for i, need in enumerate(needs):
        for c in need:
            uses.setdefault(c, deque()).append(i)
    held: set[int] = set()
    reads, drops = [], []
    for need in needs:
        before, after = [], []  # uses[c][0] is this batch for every chunk c it needs
        for c in need:
            if c in held:
                continue
            spare = [h for h in held if h not in need]
            while len(held) >= max(1, limit) and spare:
                victim = max(spare, key=lambda h: uses[h][0] if uses[h] else 2**62)
                spare.remove(victim)
                held.discard(victim)
                before.append(victim)
            held.add(c)
            reads.append(c)
        for c in need:
            uses[c].popleft()  # this batch's use
            if not uses[c]:
                held.discard(c)
                after.append(c)
        drops.append((before, after))
    return reads, drops
