"""Make artefacts JSON-safe and small."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: Upper bound on points in any curve or sample sent to a client.
MAX_POINTS = 200


def json_safe(value: Any) -> Any:
    """Plain Python types only: numpy scalars and arrays become floats / ints / lists,
    NaN and infinities become None, mapping keys become strings."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def label_value(label: Any) -> Any:
    """A class label as a plain Python value (``np.int64(1)`` -> ``1``)."""
    return label.item() if isinstance(label, np.generic) else label


def downsample_indices(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """At most ``max_points`` evenly spaced indices into ``n`` points, first and last kept."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def downsample(max_points: int = MAX_POINTS, **arrays: Any) -> dict[str, list]:
    """Thin parallel arrays (fpr/tpr/thresholds) with the same indices."""
    n = len(next(iter(arrays.values())))
    keep = downsample_indices(n, max_points)
    return {name: json_safe(np.asarray(values)[keep]) for name, values in arrays.items()}
