"""Splitting work into chunks for joblib, shared by the transformers."""

from __future__ import annotations

import numpy as np
from joblib import effective_n_jobs, parallel_config


def chunk_slices(
    n_items: int, workers: int, per_worker: int = 4, split_serial: bool = True
) -> list[slice]:
    """Slices that cut ``n_items`` into jobs for ``workers`` workers.

    With one worker, one item per job when ``split_serial`` (so a progress bar
    moves item by item), else a single job. With more, about ``per_worker``
    jobs per worker, so that the cost of sending a job (to a process or a Dask
    worker) stays small next to the job itself.
    """
    if workers == 1:
        n_chunks = n_items if split_serial else min(n_items, 1)
    else:
        n_chunks = min(n_items, per_worker * workers)
    bounds = np.linspace(0, n_items, n_chunks + 1).round().astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def local_threads(n_jobs: int | None) -> int:
    """How many threads of this process ``n_jobs`` asks for, whatever the backend.

    ``None`` is 1 unless an enclosing :func:`joblib.parallel_config` sets
    ``n_jobs``; -1 is every core of this machine, not of a cluster.
    """
    with parallel_config(backend="threading"):
        return effective_n_jobs(n_jobs)
