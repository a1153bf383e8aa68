"""Helpers shared by the similarity models (ItemKNN, UserKNN, RP3beta, EASE): top-k
sparsification of dense blocks and the popularity fallback for empty histories.

Kept here so each model file holds only its own maths.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cinesync.data.history import HistoryBatch


def topk_rows(block: np.ndarray, k: int, by_abs: bool = False) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row of dense ``block`` (m, n); drop zeros.

    by_abs: rank by absolute value (for signed weights such as EASE's B) instead of value.
    Returns an (m, n) float32 CSR with at most ``k`` stored entries per row, columns sorted.
    """
    m, n = block.shape
    kk = min(k, n)
    if kk <= 0 or m == 0:
        return sp.csr_matrix((m, n), dtype=np.float32)
    key = np.abs(block) if by_abs else block
    full = np.broadcast_to(np.arange(n), (m, n))
    cols = np.argpartition(-key, kk - 1, axis=1)[:, :kk] if kk < n else full
    vals = np.take_along_axis(block, cols, axis=1)
    keep = vals != 0 if by_abs else vals > 0
    rows = np.broadcast_to(np.arange(m)[:, None], cols.shape)
    out = sp.csr_matrix((vals[keep].astype(np.float32), (rows[keep], cols[keep])), shape=(m, n))
    out.sort_indices()
    return out


def row_chunks(n: int, size: int) -> list[slice]:
    """Consecutive slices of ``range(n)`` of at most ``size`` rows."""
    return [slice(s, min(s + size, n)) for s in range(0, n, max(1, size))]


def fill_empty_rows(scores: np.ndarray, batch: HistoryBatch, fallback: np.ndarray) -> np.ndarray:
    """Rows of ``scores`` (n, m) whose history is empty get ``fallback`` (m,) instead; in place."""
    empty = batch.lengths == 0
    if empty.any():
        scores[empty] = fallback
    return scores


def popularity(train_csr: sp.csr_matrix) -> np.ndarray:
    """(n_items,) float32 item interaction counts scaled to [0, 1] (the empty-history fallback)."""
    counts = np.asarray((train_csr != 0).sum(axis=0), np.float64).ravel()
    return (counts / max(counts.max(initial=0.0), 1.0)).astype(np.float32)
