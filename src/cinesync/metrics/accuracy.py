"""Accuracy metrics as pure, vectorised functions returning per-user vectors.

Inputs
------
``top``: (n_users, K) int64 recommended item indices, best first, padded with -1 where
fewer than K candidates existed (what ``cinesync.ranking.topk`` returns).
``targets``: (n_users, n_items) scipy sparse matrix of held-out relevant items; every
stored non-zero entry counts as relevant (binary relevance).

Definitions (rank i is 1-based; ``rel_i`` = 1 if the item at rank i is relevant;
``R`` = number of relevant items of the user; ``h_K`` = number of hits in the top K)
-------------------------------------------------------------------------------
* ``hr@K``        = 1 if h_K > 0 else 0 (hit rate).
* ``recall@K``    = h_K / R (not h_K / min(R, K): a user with R > K cannot reach 1).
* ``precision@K`` = h_K / K (pads count as misses, so short lists are penalised).
* ``ndcg@K``      = DCG / IDCG with DCG = sum_{i<=K} rel_i / log2(i + 1) and IDCG the
  DCG of min(R, K) relevant items at ranks 1..min(R, K).
* ``mrr@K``       = 1 / (rank of the first hit) if it is within K, else 0.
* ``map@K``       = (sum_{i<=K} precision@i * rel_i) / min(R, K).

Users with no relevant items (R = 0) get NaN for every metric; the evaluation runner
drops NaN users before averaging, so they neither help nor hurt a model.

Everything is computed once for the largest K in ``ks`` with cumulative sums, so asking
for several cut-offs costs little more than one.

``random_expectation`` gives the exact expected Recall@K / NDCG@K of a uniformly random ranking
of C candidates with R relevant: recall = min(K, C) / C, DCG = (R / C) * sum_{i <= min(K, C)}
1 / log2(i + 1), divided by the ideal DCG of min(R, K) hits.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Sequence

import numpy as np
import scipy.sparse as sp

from cinesync.errors import ConfigError, DataError

__all__ = [
    "hits",
    "ranking_metrics",
    "rmse",
    "mae",
    "per_user_squared_error",
    "per_user_absolute_error",
    "sampled_ranking_metrics",
    "random_expectation",
]


def _check_top(top: np.ndarray, n_items: int | None = None) -> np.ndarray:
    top = np.asarray(top)
    if top.ndim != 2:
        raise DataError(f"top must be a 2-d (n_users, K) array of item indices, got shape {top.shape}")
    if top.size and not np.issubdtype(top.dtype, np.integer):
        raise DataError(f"top must hold integer item indices (-1 = padding), got dtype {top.dtype}")
    top = top.astype(np.int64, copy=False)
    if top.size:
        lo, hi = int(top.min()), int(top.max())
        if lo < -1:
            raise DataError(f"top holds index {lo}; item indices must be >= 0 (or -1 for padding)")
        if n_items is not None and hi >= n_items:
            raise DataError(f"top holds item index {hi} but the catalogue has only {n_items} items")
    return top


def _canonical_targets(targets: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """CSR with sorted, unique column indices and no explicit zeros (copied only when needed)."""
    t = sp.csr_matrix(targets)
    if not t.has_canonical_format or (t.nnz and not np.all(t.data)):
        t = t.copy()
        t.sum_duplicates()
        t.eliminate_zeros()
    return t


def hits(top: np.ndarray, targets: sp.spmatrix | sp.sparray) -> np.ndarray:
    """(n_users, K) bool: ``top[u, j]`` is a relevant item of user u (pads are never hits).

    Vectorised through SciPy's compiled CSR element lookup (a binary search in each sorted
    row), about 0.1 s for 100k users x K=20 against 10M relevant entries.
    """
    t = _canonical_targets(targets)
    n_users, n_items = t.shape
    top = _check_top(top, n_items)
    if top.shape[0] != n_users:
        raise DataError(f"top has {top.shape[0]} rows but targets has {n_users} users")
    if not t.nnz or not top.size:
        return np.zeros(top.shape, dtype=bool)
    valid = top >= 0
    rows = np.repeat(np.arange(n_users, dtype=np.int64), top.shape[1])
    found = np.asarray(sp.csr_array(t)[rows, np.where(valid, top, 0).ravel()]).reshape(top.shape)
    return (found != 0) & valid


def _check_ks(ks: Sequence[int], k_max: int) -> list[int]:
    ks = [int(k) for k in ks]
    bad = [k for k in ks if k < 1 or k > k_max]
    if bad:
        raise ConfigError(f"metric cut-offs must be in 1..{k_max} (the width of top), got {bad}")
    return ks


def ranking_metrics(top: np.ndarray, targets: sp.spmatrix | sp.sparray, ks: Sequence[int],
                    only: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """Per-user full-ranking metrics at each cut-off in ``ks`` (see the module docstring).

    Returns {"hr@K", "recall@K", "precision@K", "ndcg@K", "mrr@K", "map@K"} -> (n_users,)
    float64, NaN for users without relevant items. ``only``: keep just these metrics, named by
    family ("ndcg") or in full ("ndcg@10"). Raises ConfigError (a ValueError) if a K exceeds
    ``top.shape[1]``.
    """
    top = _check_top(top)
    ks = _check_ks(ks, top.shape[1])
    if not ks:
        return {}
    k_max = max(ks)
    t = _canonical_targets(targets)
    h = hits(top[:, :k_max], t)
    n_rel = np.diff(t.indptr).astype(np.float64)
    no_rel = n_rel == 0
    ranks = np.arange(1, k_max + 1, dtype=np.float64)
    disc = 1.0 / np.log2(ranks + 1.0)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])  # ideal[r] = IDCG of r relevant items

    hf = h.astype(np.float64)
    cum_hits = np.cumsum(hf, axis=1)
    cum_dcg = np.cumsum(hf * disc, axis=1)
    cum_ap = np.cumsum(hf * cum_hits / ranks, axis=1)
    any_hit = h.any(axis=1)
    first = np.where(any_hit, np.argmax(h, axis=1), k_max)  # 0-based rank of the first hit

    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in ks:
            nh = cum_hits[:, k - 1]
            cap = np.minimum(n_rel, k)
            metrics = {
                "hr": (nh > 0).astype(np.float64),
                "recall": nh / n_rel,
                "precision": nh / k,
                "ndcg": cum_dcg[:, k - 1] / ideal[cap.astype(np.int64)],
                "mrr": np.where(first < k, 1.0 / (first + 1.0), 0.0),
                "map": cum_ap[:, k - 1] / cap,
            }
            for name, v in metrics.items():
                v[no_rel] = np.nan
                out[f"{name}@{k}"] = v
    if only is not None:
        out = {key: v for key, v in out.items() if key in only or key.split("@")[0] in only}
    return out


def _pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).ravel()
    true = np.asarray(true, dtype=np.float64).ravel()
    if pred.shape != true.shape:
        raise DataError(f"pred has {pred.size} values but true has {true.size}")
    return pred, true


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root mean squared error over all (prediction, rating) pairs; NaN if empty."""
    pred, true = _pair(pred, true)
    return float(np.sqrt(np.mean((pred - true) ** 2))) if pred.size else float("nan")


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute error over all (prediction, rating) pairs; NaN if empty."""
    pred, true = _pair(pred, true)
    return float(np.mean(np.abs(pred - true))) if pred.size else float("nan")


def _per_user_mean(err: np.ndarray, user: np.ndarray, n_users: int | None) -> np.ndarray:
    user = np.asarray(user).ravel()
    if user.shape != err.shape:
        raise DataError(f"user has {user.size} entries but there are {err.size} predictions")
    if user.size and (not np.issubdtype(user.dtype, np.integer) or user.min() < 0):
        raise DataError("user must hold non-negative integer user indices")
    n = int(user.max()) + 1 if n_users is None and user.size else int(n_users or 0)
    if user.size and user.max() >= n:
        raise DataError(f"user index {int(user.max())} >= n_users={n}")
    counts = np.bincount(user, minlength=n).astype(np.float64)
    sums = np.bincount(user, weights=err, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def per_user_squared_error(pred: np.ndarray, true: np.ndarray, user: np.ndarray,
                           n_users: int | None = None) -> np.ndarray:
    """(n_users,) mean squared error per user (NaN for users with no test ratings).

    ``user`` (n_ratings,) gives each pair's user index; ``n_users`` defaults to max + 1.
    The square root of the (NaN-dropped) mean is *not* the global RMSE (users weigh
    equally here); use it for per-user CIs and paired tests.
    """
    pred, true = _pair(pred, true)
    return _per_user_mean((pred - true) ** 2, user, n_users)


def per_user_absolute_error(pred: np.ndarray, true: np.ndarray, user: np.ndarray,
                            n_users: int | None = None) -> np.ndarray:
    """(n_users,) mean absolute error per user (NaN for users with no test ratings)."""
    pred, true = _pair(pred, true)
    return _per_user_mean(np.abs(pred - true), user, n_users)


def sampled_ranking_metrics(scores_of_positive: np.ndarray, scores_of_negatives: np.ndarray,
                            ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Sampled-negative metrics: rank one held-out positive among m sampled negatives per user.

    scores_of_positive: (n,) score of each user's positive; scores_of_negatives: (n, m).
    Rank = 1 + #negatives scoring >= the positive (ties count against the positive, so a
    constant scorer gets the worst rank, not a lucky one). Returns per-user
    {"sampled_hr@K", "sampled_ndcg@K", "sampled_mrr@K"} -> (n,) float64 for K in ks (K <= m + 1).

    Sampled metrics are NOT comparable with full-ranking metrics and can even reorder
    models (Krichene & Rendle, "On Sampled Metrics for Item Recommendation", KDD 2020);
    the keys carry a ``sampled_`` prefix so they cannot be mixed up in reports.
    """
    warnings.warn(
        "sampled ranking metrics are not comparable with full-ranking metrics and may rank models "
        "inconsistently (Krichene & Rendle 2020); report full-ranking metrics for model comparison",
        UserWarning, stacklevel=2,
    )
    pos = np.asarray(scores_of_positive, dtype=np.float64).ravel()
    neg = np.asarray(scores_of_negatives, dtype=np.float64)
    if neg.ndim != 2 or neg.shape[0] != pos.size:
        raise DataError(f"scores_of_negatives must be (n={pos.size}, m), got shape {neg.shape}")
    ks = _check_ks(ks, neg.shape[1] + 1)
    rank = 1 + (neg >= pos[:, None]).sum(axis=1)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        inside = rank <= k
        out[f"sampled_hr@{k}"] = inside.astype(np.float64)
        out[f"sampled_ndcg@{k}"] = np.where(inside, 1.0 / np.log2(rank + 1.0), 0.0)
        out[f"sampled_mrr@{k}"] = np.where(inside, 1.0 / rank, 0.0)
    return out


def random_expectation(n_relevant: np.ndarray, n_candidates: int | np.ndarray,
                       ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Exact expected per-user recall@K and ndcg@K of a uniformly random ranking (module docstring)."""
    r = np.asarray(n_relevant, np.float64)
    c = np.broadcast_to(np.asarray(n_candidates, np.float64), r.shape)
    if np.any(r > c) or np.any(c < 1):
        raise DataError("random_expectation: every user needs 1 <= relevant <= candidates")
    out: dict[str, np.ndarray] = {}
    disc_cum = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, max(ks) + 2)))])
    for k in ks:
        kk = np.minimum(k, c).astype(np.int64)
        out[f"recall@{k}"] = kk / c
        ideal = disc_cum[np.minimum(r, k).astype(np.int64)]
        out[f"ndcg@{k}"] = np.where(r > 0, (r / c) * disc_cum[kk] / np.where(ideal > 0, ideal, 1.0), np.nan)
    return out
