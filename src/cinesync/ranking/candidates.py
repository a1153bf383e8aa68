"""Candidate sets: the union of every member's top-N unseen items, stored CSR-style per query.

A candidate set for ``n`` queries is ``indptr`` (n+1,) + ``items`` (nnz,), rows sorted by item.
Member score matrices are (n, n_items) float32 with seen items already at -inf
(``ranking.mask_items``), so no member proposes an item the user has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cinesync.errors import ConfigError
from cinesync.ranking.lists import mask_items, topk


@dataclass(frozen=True)
class Candidates:
    """Per-query candidate items. indptr: (n+1,) int64; items: (nnz,) int64, sorted within each row."""

    indptr: np.ndarray
    items: np.ndarray
    n_items: int

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def rows(self) -> np.ndarray:
        """(nnz,) query row of every candidate."""
        return np.repeat(np.arange(len(self)), np.diff(self.indptr))

    @property
    def sizes(self) -> np.ndarray:
        """(n,) candidates per query."""
        return np.diff(self.indptr)

    def labels(self, targets: sp.spmatrix) -> np.ndarray:
        """(nnz,) float32: 1 where the candidate is one of the query's targets ((n, n_items) sparse)."""
        t = sp.csr_matrix(targets)
        if t.shape != (len(self), self.n_items):
            raise ValueError(f"targets shape {t.shape} != ({len(self)}, {self.n_items})")
        return (np.asarray(t[self.rows, self.items]).ravel() != 0).astype(np.float32)

    def to_dense(self, values: np.ndarray, fill: float = -np.inf) -> np.ndarray:
        """(n, n_items) float32 with ``values`` (nnz,) at the candidates and ``fill`` elsewhere."""
        out = np.full((len(self), self.n_items), fill, np.float32)
        out[self.rows, self.items] = values
        return out


def masked(scores: np.ndarray, exclude: sp.spmatrix | None) -> np.ndarray:
    """A float32 copy of (n, n_items) ``scores`` with the excluded (seen) items at -inf."""
    out = np.array(scores, dtype=np.float32, copy=True)
    return mask_items(out, exclude)


def union_topn(member_scores: list[np.ndarray], n_per_member: int) -> Candidates:
    """Union of each member's top-``n_per_member`` (finite scores only) per query.

    member_scores: list of (n, n_items) masked score matrices (seen items at -inf).
    """
    if not member_scores:
        raise ConfigError("an ensemble needs at least one member")
    if n_per_member <= 0:
        raise ConfigError(f"candidates per member must be positive, got {n_per_member}")
    n, m = member_scores[0].shape
    keys = []
    for s in member_scores:
        if s.shape != (n, m):
            raise ValueError(f"member score shapes differ: {s.shape} vs {(n, m)}")
        idx, _ = topk(s, n_per_member)
        rows = np.repeat(np.arange(n, dtype=np.int64), idx.shape[1])
        flat = idx.ravel()
        ok = flat >= 0
        keys.append(rows[ok] * m + flat[ok])
    key = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    rows, items = key // max(m, 1), key % max(m, 1)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).astype(np.int64)
    return Candidates(indptr, items.astype(np.int64), m)


def gather(scores: np.ndarray, cands: Candidates) -> np.ndarray:
    """(nnz,) values of (n, n_items) ``scores`` at the candidates."""
    return scores[cands.rows, cands.items]


def full_ranks(scores: np.ndarray, cands: Candidates) -> np.ndarray:
    """(nnz,) 0-based rank of each candidate in its row of ``scores`` (best = 0; ties by item index)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty(scores.shape, np.int32)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(scores.shape[1], dtype=np.int32), scores.shape),
                      axis=1)
    return ranks[cands.rows, cands.items].astype(np.float32)


def candidate_order(cands: Candidates, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The candidates ranked within each query by ``values`` (nnz,), best first (ties: lower item first):
    (order (nnz,) into the candidate arrays, row by row; 0-based position of each within its query)."""
    order = np.lexsort((cands.items, -values.astype(np.float64), cands.rows))
    return order, np.arange(len(order)) - cands.indptr[cands.rows[order]]


def in_topk(cands: Candidates, values: np.ndarray, k: int = 10) -> np.ndarray:
    """(nnz,) bool: the candidate is among its query's top-``k`` by ``values`` (ties: lower item first)."""
    order, pos = candidate_order(cands, values)
    out = np.zeros(len(order), bool)
    out[order] = pos < k
    return out
