"""A tqdm progress bar that is only drawn when asked for."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], total: int | None, verbose: int, desc: str) -> Iterator[T]:
    """Iterate over ``items``, drawing a tqdm bar on stderr when ``verbose > 0``."""
    if not verbose:
        return iter(items)
    from tqdm.auto import tqdm

    return iter(tqdm(items, total=total, desc=desc, unit="song", leave=False))
