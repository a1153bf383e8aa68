"""Diversity re-ranking by Maximal Marginal Relevance (Carbonell & Goldstein 1998).

Greedily pick the pool item maximising ``lam * rel(i) - (1 - lam) * max_{j picked} sim(i, j)``
with ``lam = 1 - diversity``: diversity 0 keeps the relevance order, diversity 1 only avoids
repeating what is already on the list. ``rel`` is the pool's relevance min-max scaled to 0..1
so it is on the same scale as the cosine similarities. Similarity comes from L2-normalised
item vectors (the engine passes model/item embeddings when it has them, else genre rows).
"""

from __future__ import annotations

import numpy as np


def minmax(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to 0..1 (a constant array -> all ones)."""
    x = np.asarray(x, np.float64)
    lo, hi = x.min(initial=np.inf), x.max(initial=-np.inf)
    if not np.isfinite(lo) or hi - lo < 1e-12:
        return np.ones_like(x)
    return (x - lo) / (hi - lo)


def mmr(relevance: np.ndarray, unit_vectors: np.ndarray, k: int, diversity: float) -> np.ndarray:
    """Positions (into the pool) of the ``min(k, P)`` items MMR picks, in pick order.

    relevance: (P,) higher = better. unit_vectors: (P, d) rows with unit (or zero) norm.
    """
    rel = np.asarray(relevance, np.float64)
    p = len(rel)
    k = min(int(k), p)
    if k <= 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-rel, kind="stable")
    if diversity <= 0.0 or k == 1:
        return order[:k]
    lam = 1.0 - float(diversity)
    value = lam * minmax(rel)
    sim = np.asarray(unit_vectors @ unit_vectors.T, np.float64)
    max_sim = np.zeros(p)
    picked = np.zeros(p, bool)
    out = np.empty(k, np.int64)
    for step in range(k):
        v = value - (1.0 - lam) * max_sim
        v[picked] = -np.inf
        i = int(np.argmax(v))
        out[step] = i
        picked[i] = True
        np.maximum(max_sim, sim[i], out=max_sim)
    return out


def intra_list_similarity(unit_vectors: np.ndarray) -> float:
    """Mean pairwise cosine similarity of a list's items (lower = more diverse); 0 for < 2 items."""
    n = len(unit_vectors)
    if n < 2:
        return 0.0
    s = unit_vectors @ unit_vectors.T
    return float((s.sum() - np.trace(s)) / (n * (n - 1)))
