"""Small array helpers for hot paths."""

from __future__ import annotations

import numpy as np


def unique_int(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array.

    Sort-based on purpose: NumPy 2.4's default ``np.unique`` takes a hash-based path that is
    orders of magnitude slower on wide-range int64 keys (58 s vs 0.9 s for 12M keys measured here).
    """
    a = np.sort(np.asarray(a).ravel())
    if len(a) == 0:
        return a
    keep = np.empty(len(a), bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def unit_rows(m: np.ndarray) -> np.ndarray:
    """Rows of ``m`` (n, d) scaled to unit L2 norm (all-zero rows stay zero), float32."""
    m = np.asarray(m, np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
