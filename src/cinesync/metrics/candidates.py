"""Full-ranking metrics of a ranking restricted to a candidate set (``ranking.candidates``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cinesync.ranking.candidates import Candidates, candidate_order


def candidate_metrics(cands: Candidates, values: np.ndarray, labels: np.ndarray, n_targets: np.ndarray,
                      k: int = 10) -> dict[str, np.ndarray]:
    """Per-query ndcg@k and recall@k of ranking the candidates by ``values`` (nnz,) (ties: lower item first).

    labels: (nnz,) 1 = target; n_targets: (n,) all targets of the query (also those outside the
    candidates), so the figures equal full-ranking metrics. Queries without targets get NaN.
    """
    n = len(cands)
    order, pos = candidate_order(cands, values)
    r = cands.rows[order]
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


def candidate_recall(cands: Candidates, targets: sp.spmatrix) -> float:
    """Share of all target entries that lie inside the candidate set (micro-averaged)."""
    t = sp.csr_matrix(targets)
    total = int((t != 0).sum())
    return float(cands.labels(t).sum() / total) if total else float("nan")
