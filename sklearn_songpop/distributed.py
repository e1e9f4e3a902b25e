"""Data-parallel training of the song networks with PyTorch's DistributedDataParallel.

One process per GPU (or per group of CPU cores), on one machine or several,
started by ``torchrun``: every process builds the same network, trains on
its share of each batch (:class:`~sklearn_songpop.batching.ShardedBatchSampler`),
and DistributedDataParallel averages the gradients over the processes before
each step, so the weights stay equal everywhere. Set ``distributed=True`` on
the network (``classifier__distributed=True`` in a pipeline); ``songpop
train`` does so by itself under ``torchrun``.

Why DistributedDataParallel under ``torchrun`` and not skorch's
``AccelerateMixin``: the mixin takes an ``Accelerator`` object as a
constructor argument, which ``clone`` and ``GridSearchCV`` cannot copy, and
replaces the training step with its own, where ours crops, augments and
trains on every interval; it wraps ``module_`` for the whole fit, hiding the
methods that our callbacks and freezing call on it. Here ``module_`` stays
the plain network, the wrapper lives only for the training step of one fit,
and nothing beyond torch is needed.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

__all__ = ["DataParallel", "check_joinable", "init_process_group", "launched_by_torchrun",
           "process_group"]


def launched_by_torchrun() -> bool:
    """Whether this process is one of several that ``torchrun`` started.

    Returns
    -------
    bool
        True when ``WORLD_SIZE`` says more than one process.

    Examples
    --------
    >>> import os
    >>> launched_by_torchrun() == (int(os.environ.get("WORLD_SIZE", "1")) > 1)
    True
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def process_group() -> tuple[int, int]:
    """This process's rank and the number of processes of torch's default group.

    Returns
    -------
    (rank, world_size)
        ``(0, 1)`` when no group is initialised.

    Examples
    --------
    >>> process_group()
    (0, 1)
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def check_joinable() -> None:
    """Raise a clear error unless this process can join a group of training processes.

    Raises
    ------
    RuntimeError
        When no group is initialised and this process was not started by
        ``torchrun`` (or with its environment variables).
    """
    if (dist.is_available() and dist.is_initialized()) or launched_by_torchrun():
        return
    raise RuntimeError(
        "distributed=True trains one model over several processes, and this one was not "
        "started by torchrun: run e.g. `torchrun --nproc_per_node 2 your_script.py` (or "
        "`torchrun ... -m sklearn_songpop.cli train ...`), or call "
        "torch.distributed.init_process_group yourself first"
    )


def init_process_group(device: str = "cpu") -> tuple[int, int]:
    """Join the processes that ``torchrun`` started, once; gloo on CPUs, NCCL on GPUs.

    Parameters
    ----------
    device : str, default="cpu"
        Where the network trains. On ``"cuda"``, each process takes the GPU
        of its ``LOCAL_RANK``.

    Returns
    -------
    (rank, world_size)

    Raises
    ------
    RuntimeError
        When no group is initialised and this process was not started by
        ``torchrun`` (or with its environment variables).
    """
    if not (dist.is_available() and dist.is_initialized()):
        check_joinable()
        cuda = str(device).startswith("cuda")
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return process_group()


class DataParallel:
    """One fit's data-parallel state: the wrapped network and the seed of the order.

    Made after the network is built and dropped at the end of the fit, so
    a fitted estimator holds no process group and pickles as usual.

    Parameters
    ----------
    module : torch.nn.Module
        The network, already on its device; its weights and buffers are
        taken from process 0 (DistributedDataParallel broadcasts them).
    device : str
        Where it trains.
    """

    def __init__(self, module: torch.nn.Module, device: str) -> None:
        self.rank, self.world_size = init_process_group(device)
        self.device = device
        self.cuda = str(device).startswith("cuda")
        self.module = module
        self.wrapped = self._wrap(module)
        self._trainable = self._trainable_now()
        # the order's seed: process 0's draw (seeded by random_state), sent to all
        seed = torch.randint(0, 2**62, (1,), dtype=torch.int64).to(self._comm_device())
        dist.broadcast(seed, src=0)  # in place: every process now holds process 0's
        self.seed = int(seed.item())
        # crops, masks and dropout: each process draws its own
        torch.manual_seed(self.seed + 1 + self.rank)

    def sync_buffers(self) -> None:
        """Give every process the first one's buffers (batch-norm statistics).

        Each process updates them on its own share of the batches; before a
        validation pass and at the end of training they are made equal, so
        every process scores the same model, stops at the same epoch (one that
        stopped alone would leave the others waiting) and ends with it.
        """
        for buffer in self.module.buffers():
            dist.broadcast(buffer.data, src=0)

    @contextmanager
    def same_numpy_draws(self):
        """NumPy's global generator seeded alike in every process, and restored after.

        A validation split without a ``random_state`` draws from it; every
        process must hold out the same songs.
        """
        # the legacy global generator is the one such a split draws from
        state = np.random.get_state()  # noqa: NPY002
        np.random.seed(self.seed % 2**32)  # noqa: NPY002
        try:
            yield
        finally:
            np.random.set_state(state)  # noqa: NPY002

    def _comm_device(self) -> str:
        """NCCL sends tensors that lie on the GPU, gloo those on the CPU."""
        return "cuda" if self.cuda else "cpu"

    def _trainable_now(self) -> tuple[bool, ...]:
        return tuple(p.requires_grad for p in self.module.parameters())

    def _wrap(self, module: torch.nn.Module) -> DistributedDataParallel:
        ids = [torch.cuda.current_device()] if self.cuda else None
        return DistributedDataParallel(module, device_ids=ids)

    def training_module(self) -> DistributedDataParallel:
        """The wrapper to train through, made again when layers were frozen or thawed.

        DistributedDataParallel registers the parameters that train when it is
        made, so ``freeze_epochs`` needs a new one when the body thaws.

        Returns
        -------
        DistributedDataParallel
        """
        now = self._trainable_now()
        if now != self._trainable:
            self.wrapped, self._trainable = self._wrap(self.module), now
        return self.wrapped

    def generator(self) -> torch.Generator:
        """A generator of the songs' order, seeded alike in every process.

        skorch makes a fit's training iterator once; each epoch draws its
        order from this generator in turn, the same in every process.

        Returns
        -------
        torch.Generator
        """
        return torch.Generator().manual_seed(self.seed)
