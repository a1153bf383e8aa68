"""Fixed and tuned fusions of member scores over a candidate set, and a candidate-level NDCG.

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

from cinesync.ensemble.candidates import Candidates

log = logging.getLogger(__name__)
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def candidate_metrics(cands: Candidates, values: np.ndarray, labels: np.ndarray, n_targets: np.ndarray,
                      k: int = 10) -> dict[str, np.ndarray]:
    """Per-query ndcg@k and recall@k of ranking the candidates by ``values`` (nnz,) (ties: lower item first).

    labels: (nnz,) 1 = target; n_targets: (n,) all targets of the query (also those outside the
    candidates), so the figures equal full-ranking metrics. Queries without targets get NaN.
    """
    rows = cands.rows
    n = len(cands)
    order = np.lexsort((cands.items, -values.astype(np.float64), rows))
    r = rows[order]
    pos = np.arange(len(order)) - cands.indptr[r]
    hit = labels[order] * (pos < k)
    disc = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = np.bincount(r, weights=hit * disc[np.minimum(pos, k - 1)], minlength=n)
    idcg_table = np.concatenate([[0.0], np.cumsum(disc)])
    nt = np.asarray(n_targets, np.int64)
    idcg = idcg_table[np.minimum(nt, k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        ndcg = np.where(nt > 0, dcg / idcg, np.nan)
        recall = np.where(nt > 0, np.bincount(r, weights=hit, minlength=n) / nt, np.nan)
    return {f"ndcg@{k}": ndcg, f"recall@{k}": recall}


def in_topk(cands: Candidates, values: np.ndarray, k: int = 10) -> np.ndarray:
    """(nnz,) bool: the candidate is among its query's top-``k`` by ``values`` (ties: lower item first)."""
    order = np.lexsort((cands.items, -values.astype(np.float64), cands.rows))
    pos = np.arange(len(order)) - cands.indptr[cands.rows[order]]
    out = np.zeros(len(order), bool)
    out[order] = pos < k
    return out


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
