"""Fixed and tuned fusions of member scores over a candidate set (scored by
``cinesync.metrics.candidates.candidate_metrics``).

* ``rrf``: reciprocal-rank fusion, sum_j 1 / (k + rank_j) with 1-based full-ranking ranks.
* ``weighted``: sum_j w_j z_j of per-query z-scored member scores; ``tune_weights`` picks
  w by coordinate search on validation NDCG@k.
* ``adaptive``: one weight vector per history-length bucket (edges = quantiles of the
  validation users' history lengths), each tuned on that bucket's validation users.
* ``disagreement``: per-candidate std of the members' z-scores (high = members disagree).
"""

from __future__ import annotations

import logging

import numpy as np

from cinesync.metrics.candidates import candidate_metrics
from cinesync.ranking.candidates import Candidates

log = logging.getLogger(__name__)
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def rrf(ranks: np.ndarray, k: float = 60.0) -> np.ndarray:
    """(nnz,) RRF score from (nnz, n_members) 0-based ranks."""
    return (1.0 / (k + 1.0 + ranks)).sum(axis=1)


def weighted(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(nnz,) weighted sum of (nnz, n_members) normalised scores."""
    return z @ np.asarray(weights, np.float64)


def disagreement(z: np.ndarray) -> np.ndarray:
    """(nnz,) std over members of the normalised scores: 0 = full agreement."""
    return z.std(axis=1) if z.shape[1] > 1 else np.zeros(len(z))


def tune_weights(z: np.ndarray, cands: Candidates, labels: np.ndarray, n_targets: np.ndarray,
                 query_mask: np.ndarray | None = None, k: int = 10, passes: int = 3,
                 start: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Coordinate search over ``WEIGHT_GRID`` per member maximising mean ndcg@k; returns (weights, value).

    query_mask: (n,) bool, the queries that count (e.g. one history-length bucket).
    """
    n_members = z.shape[1]
    mask = np.ones(len(cands), bool) if query_mask is None else np.asarray(query_mask, bool)
    nt = np.where(mask, n_targets, 0)  # queries outside the mask drop out as NaN

    def value(w: np.ndarray) -> float:
        if not np.any(w):
            return -1.0
        v = candidate_metrics(cands, weighted(z, w), labels, nt, k)[f"ndcg@{k}"]
        return float(np.nanmean(v)) if np.isfinite(v).any() else 0.0

    w = np.ones(n_members) if start is None else np.array(start, np.float64)
    best = value(w)
    for _ in range(passes):
        improved = False
        for j in range(n_members):
            for g in WEIGHT_GRID:
                if g == w[j]:
                    continue
                trial = w.copy()
                trial[j] = g
                v = value(trial)
                if v > best + 1e-9:
                    best, w, improved = v, trial, True
        if not improved:
            break
    return w, best


def bucket_edges(lengths: np.ndarray, n_buckets: int) -> np.ndarray:
    """(n_buckets - 1,) history-length cut points at quantiles of ``lengths``."""
    if n_buckets <= 1 or len(lengths) == 0:
        return np.zeros(0)
    return np.unique(np.quantile(lengths, np.linspace(0, 1, n_buckets + 1)[1:-1]))


def bucket_of(lengths: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(n,) bucket index of each history length (bucket b holds edges[b-1] < len <= edges[b])."""
    return np.searchsorted(edges, lengths, side="left")


def tune_adaptive(z: np.ndarray, cands: Candidates, labels: np.ndarray, n_targets: np.ndarray,
                  lengths: np.ndarray, n_buckets: int = 3, k: int = 10,
                  start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-bucket weights: returns (edges (B-1,), weights (B, n_members))."""
    edges = bucket_edges(lengths, n_buckets)
    b = bucket_of(lengths, edges)
    out = []
    for i in range(len(edges) + 1):
        w, v = tune_weights(z, cands, labels, n_targets, b == i, k, start=start)
        log.info("adaptive bucket %d (%d queries): weights %s, valid ndcg@%d=%.4f", i, int((b == i).sum()),
                 np.round(w, 2).tolist(), k, v)
        out.append(w)
    return edges, np.stack(out)


def adaptive(z: np.ndarray, cands: Candidates, lengths: np.ndarray, edges: np.ndarray,
             weights: np.ndarray) -> np.ndarray:
    """(nnz,) fused score with each query's bucket weights."""
    w = weights[bucket_of(lengths, edges)][cands.rows]  # (nnz, n_members)
    return (z * w).sum(axis=1)
