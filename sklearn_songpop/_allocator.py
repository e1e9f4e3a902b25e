"""glibc's allocator thresholds, fixed for a training process.

Tensors of a training loop's activations are freed and allocated again on
every batch; with glibc's moving thresholds each may map fresh pages. The
``songpop`` command fixes the thresholds at start (see "Training speed on
the CPU" in the user guide).
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["STEADY_MALLOC", "steady_allocator"]

#: The thresholds ``songpop`` fixes, by the name of glibc's environment variable.
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": 32 * 2**20, "MALLOC_TRIM_THRESHOLD_": 256 * 2**20}
#: glibc's mallopt parameter for each variable (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD).
_MALLOPT_PARAM = {"MALLOC_MMAP_THRESHOLD_": -3, "MALLOC_TRIM_THRESHOLD_": -1}


def steady_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds for this process, as ``songpop`` does.

    With glibc's moving thresholds a training loop may map fresh pages for its
    activations on every batch; fixed ones let it reuse its memory (see "Training
    speed on the CPU" in the user guide). Nothing changes when the user has set
    ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_``, or where the C
    library is not glibc.

    Returns
    -------
    bool
        Whether the thresholds were set.
    """
    if sys.platform != "linux" or any(name in os.environ for name in STEADY_MALLOC):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl, ...)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(_MALLOPT_PARAM[name], value) == 1 for name, value in STEADY_MALLOC.items())
