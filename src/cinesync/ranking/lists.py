"""Scores -> ranked item lists: seen-item exclusion, candidate restriction, top-k. Vectorised.

Models never rank; everything that turns an (n, n_items) score matrix into lists is here:
``mask_items`` + ``topk`` (``recommend`` = both), ``rank_by`` (one list ordered by several keys)
and ``topk_tensor`` (the same cut on a torch tensor, for training-time mining on the device).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp


def mask_items(scores: np.ndarray, exclude: sp.spmatrix | None = None,
               allowed: np.ndarray | None = None) -> np.ndarray:
    """Set excluded entries of ``scores`` (n, m) to -inf, in place; returns ``scores``.

    exclude: (n, m) sparse matrix, non-zero = do not recommend (seen items, not-interested).
    allowed: (m,) or (n, m) bool mask of candidates; False entries are removed.
    """
    if exclude is not None:
        if exclude.shape != scores.shape:
            raise ValueError(f"exclude shape {exclude.shape} != scores shape {scores.shape}")
        ex = sp.csr_matrix(exclude)
        rows = np.repeat(np.arange(ex.shape[0]), np.diff(ex.indptr))
        scores[rows, ex.indices] = -np.inf
    if allowed is not None:
        allowed = np.asarray(allowed, bool)
        if allowed.shape not in ((scores.shape[1],), scores.shape):
            raise ValueError(f"allowed mask shape {allowed.shape} does not fit scores {scores.shape}")
        np.putmask(scores, ~np.broadcast_to(allowed, scores.shape), -np.inf)
    return scores


def topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` per row of (n, m) ``scores``: (indices (n, k) int64, scores (n, k)).

    Rows are sorted best first; ties go to the lower item index. Entries at -inf (masked)
    are returned as index -1, so a row with fewer than k candidates is padded with -1.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    n, m = scores.shape
    kk = min(k, m)
    if kk < m:
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1) if n else np.zeros((0, kk), np.int64)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, order, axis=1)
    idx[~np.isfinite(vals) & (vals < 0)] = -1
    if kk < k:
        idx = np.pad(idx, ((0, 0), (0, k - kk)), constant_values=-1)
        vals = np.pad(vals, ((0, 0), (0, k - kk)), constant_values=-np.inf)
    return idx, vals


def recommend(scores: np.ndarray, k: int, exclude: sp.spmatrix | None = None,
              allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mask then top-k (modifies ``scores``)."""
    return topk(mask_items(scores, exclude, allowed), k)


def rank_by(*keys: np.ndarray, allowed: np.ndarray | None = None, k: int | None = None) -> np.ndarray:
    """Item indices ordered by ``keys[0]`` descending, ties by ``keys[1]`` descending, and so on (the
    last ties by item index); only items where ``allowed`` (m,) is True; the first ``k`` (all when None)."""
    if not keys:
        raise ValueError("rank_by needs at least one key")
    order = np.lexsort(tuple(-np.asarray(key, np.float64) for key in reversed(keys)))
    if allowed is not None:
        order = order[np.asarray(allowed, bool)[order]]
    return order if k is None else order[:k]


def topk_tensor(scores: Any, k: int, exclude: Any = None) -> tuple[Any, Any]:
    """Top-``k`` per row of a torch tensor ``scores`` (n, m), entries where the bool tensor ``exclude``
    (n, m) is True removed first: (indices (n, k), values (n, k); -inf values mark fewer than k left)."""
    if exclude is not None:
        scores = scores.masked_fill(exclude, float("-inf"))
    top = scores.topk(k, dim=1)
    return top.indices, top.values
