"""Values as JSON holds them: the one helper behind every JSON file we write."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["to_json_types"]


def _refuse(value):
    raise TypeError(f"cannot store {value!r} ({type(value).__name__}) as JSON")


def to_json_types(value, fallback: Callable = _refuse):
    """``value`` with JSON's types: dicts, lists, strings, numbers, booleans, None.

    Dict keys become strings, tuples and arrays become lists, numpy scalars
    Python numbers.

    Parameters
    ----------
    value : object
        Nested dicts, lists, tuples, arrays and scalars.
    fallback : callable, default: raise TypeError
        Applied to anything else (``repr`` to record it as text, or the
        identity to leave it to ``json.dump``).

    Returns
    -------
    object

    Examples
    --------
    >>> import numpy as np
    >>> to_json_types({"shape": (3, 64), 1: np.float32(0.5), "a": np.arange(2)})
    {'shape': [3, 64], '1': 0.5, 'a': [0, 1]}
    >>> to_json_types({"cls": object}, fallback=lambda v: v.__name__)
    {'cls': 'object'}
    """
    if isinstance(value, dict):
        return {str(k): to_json_types(v, fallback) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_types(v, fallback) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_types(value.tolist(), fallback)
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return fallback(value)
