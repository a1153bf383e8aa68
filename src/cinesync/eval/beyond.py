"""Beyond-accuracy metrics: coverage, exposure concentration, diversity, novelty, serendipity,
popularity bias, and per-activity-group summaries for fairness reporting.

``top`` is an (n_users, K) int64 array of item indices, best first, padded with -1 (see
``cinesync.metrics``); pads are ignored everywhere. Catalogue-level metrics return a
float (``coverage``, ``gini``); list-level metrics return an (n_users,) float64 vector with
NaN where the metric is undefined for that user (e.g. an empty list), so the runner can
compute CIs and paired tests exactly as for accuracy metrics.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from cinesync.errors import DataError
from cinesync.metrics.accuracy import _check_top, hits

__all__ = [
    "coverage",
    "gini",
    "intra_list_diversity",
    "novelty",
    "serendipity",
    "average_popularity",
    "long_tail_share",
    "activity_groups",
    "grouped_means",
]


def _exposure(top: np.ndarray, n_items: int) -> np.ndarray:
    top = _check_top(top, n_items)
    return np.bincount(top[top >= 0], minlength=n_items)


def _list_mean(top: np.ndarray, item_values: np.ndarray) -> np.ndarray:
    """(n_users,) mean of ``item_values`` over each list's non-pad items; NaN for empty lists."""
    item_values = np.asarray(item_values, dtype=np.float64).ravel()
    top = _check_top(top, item_values.size)
    valid = top >= 0
    vals = np.where(valid, item_values[np.where(valid, top, 0)], 0.0) if item_values.size else np.zeros(top.shape)
    n = valid.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, vals.sum(axis=1) / n, np.nan)


def coverage(top: np.ndarray, n_items: int) -> float:
    """Float: fraction of the ``n_items`` catalogue recommended to at least one user."""
    if n_items <= 0:
        raise DataError(f"n_items must be positive, got {n_items}")
    return float(np.count_nonzero(_exposure(top, n_items)) / n_items)


def gini(top: np.ndarray, n_items: int) -> float:
    """Float: Gini index of item exposure counts over the whole catalogue.

    0 = every item recommended equally often; (n_items - 1) / n_items = all exposure on one
    item. Items never recommended count as zero exposure. NaN if nothing was recommended.
    G = sum_i (2i - n - 1) x_(i) / (n sum x), x sorted ascending, i = 1..n.
    """
    if n_items <= 0:
        raise DataError(f"n_items must be positive, got {n_items}")
    x = np.sort(_exposure(top, n_items)).astype(np.float64)
    total = x.sum()
    if total == 0:
        return float("nan")
    i = np.arange(1, n_items + 1, dtype=np.float64)
    return float(np.sum((2 * i - n_items - 1) * x) / (n_items * total))


def _unit_rows(item_features: np.ndarray | sp.spmatrix | sp.sparray) -> np.ndarray | sp.csr_matrix:
    """Rows scaled to unit L2 norm; zero rows stay zero (so their similarity to anything is 0)."""
    if sp.issparse(item_features):
        f = sp.csr_matrix(item_features, dtype=np.float64)
        norms = np.sqrt(np.asarray(f.multiply(f).sum(axis=1)).ravel())
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(scale) @ f)
    f = np.asarray(item_features, dtype=np.float64)
    if f.ndim != 2:
        raise DataError(f"item_features must be (n_items, d), got shape {f.shape}")
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    return np.divide(f, norms, out=np.zeros_like(f), where=norms > 0)


def intra_list_diversity(top: np.ndarray, item_features: np.ndarray | sp.spmatrix | sp.sparray,
                         chunk_elems: int = 4_000_000) -> np.ndarray:
    """(n_users,) mean over item pairs in each list of (1 - cosine similarity).

    item_features: (n_items, d) dense embeddings (cosine may be negative, so values lie in
    [0, 2]) or a sparse binary genre matrix (cosine of binary vectors = Ochiai coefficient;
    values in [0, 1]). Items with an all-zero feature vector have similarity 0 to everything.
    NaN for lists with fewer than two items.

    With unit rows x_i, sum_{i<j} x_i.x_j = (|sum_i x_i|^2 - sum_i |x_i|^2) / 2, so each list
    costs O(K d) instead of O(K^2 d); users are processed in chunks of ~``chunk_elems`` floats.
    """
    unit = _unit_rows(item_features)
    n_items, d = unit.shape
    top = _check_top(top, n_items)
    n, k = top.shape
    out = np.full(n, np.nan)
    valid = top >= 0
    n_valid = valid.sum(axis=1)
    step = max(1, chunk_elems // max(1, k * d))
    for s in range(0, n, step):
        t, v = top[s:s + step], valid[s:s + step]
        g = unit[np.where(v, t, 0).ravel()]
        g = (g.toarray() if sp.issparse(g) else g).reshape(t.shape[0], k, d) * v[:, :, None]
        sq_of_sum = np.square(g.sum(axis=1)).sum(axis=1)
        sum_of_sq = np.square(g).sum(axis=(1, 2))
        nv = n_valid[s:s + step]
        pairs = nv * (nv - 1) / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            out[s:s + step] = np.where(pairs > 0, 1.0 - (sq_of_sum - sum_of_sq) / 2.0 / pairs, np.nan)
    return out


def novelty(top: np.ndarray, item_counts: np.ndarray, n_users: int) -> np.ndarray:
    """(n_users,) mean self-information -log2(count_i / n_users) of each list.

    item_counts: (n_items,) training interactions (or distinct users) per item; items with
    zero count use count 1 (the most novel finite value). NaN for empty lists.
    """
    if n_users <= 0:
        raise DataError(f"n_users must be positive, got {n_users}")
    counts = np.maximum(np.asarray(item_counts, dtype=np.float64), 1.0)
    return _list_mean(top, -np.log2(counts / n_users))


def serendipity(top: np.ndarray, targets: sp.spmatrix | sp.sparray, expected_top: np.ndarray) -> np.ndarray:
    """(n_users,) share of each list that is relevant and *unexpected*, divided by K.

    Ge et al. (2010) style: an item is unexpected when it is not in ``expected_top`` (n, K'),
    the list a primitive model (e.g. popularity) recommends to the same user. Serendipity
    = |{i in top_u : i relevant and i not in expected_u}| / K, with K = top.shape[1] (pads
    count as non-serendipitous). NaN for users without relevant items, as in ranking_metrics.
    """
    top = _check_top(top)
    expected_top = _check_top(expected_top)
    if expected_top.shape[0] != top.shape[0]:
        raise DataError(f"expected_top has {expected_top.shape[0]} rows but top has {top.shape[0]}")
    rel = hits(top, targets)
    expected = np.zeros(top.shape, dtype=bool)
    step = max(1, 4_000_000 // max(1, top.shape[1] * expected_top.shape[1]))
    for s in range(0, top.shape[0], step):  # pads in top are never relevant, so -1 == -1 is harmless
        expected[s:s + step] = (top[s:s + step, :, None] == expected_top[s:s + step, None, :]).any(axis=2)
    out = (rel & ~expected).sum(axis=1) / max(1, top.shape[1])
    n_rel = np.diff(sp.csr_matrix(targets).indptr)
    return np.where(n_rel > 0, out, np.nan)


def average_popularity(top: np.ndarray, item_counts: np.ndarray) -> np.ndarray:
    """(n_users,) mean training count of the recommended items (ARP); NaN for empty lists."""
    return _list_mean(top, item_counts)


def long_tail_share(top: np.ndarray, item_counts: np.ndarray, head_share: float = 0.2) -> np.ndarray:
    """(n_users,) fraction of each list's items that are outside the popularity head.

    Head = the ceil(head_share * n_items) most popular items (ties broken towards the lower
    item index), restricted to items with a non-zero count; everything else is the long tail.
    NaN for empty lists.
    """
    if not 0.0 <= head_share <= 1.0:
        raise DataError(f"head_share must be in [0, 1], got {head_share}")
    counts = np.asarray(item_counts).ravel()
    n_head = int(np.ceil(head_share * counts.size))
    order = np.argsort(-counts, kind="stable")[:n_head]
    tail = np.ones(counts.size, dtype=np.float64)
    tail[order[counts[order] > 0]] = 0.0
    return _list_mean(top, tail)


def activity_groups(user_counts: np.ndarray, n_groups: int = 4) -> np.ndarray:
    """(n_users,) int64 group label 0..n_groups-1 by activity quantile (0 = least active).

    Users are ranked by count; group = floor(r * n_groups / n_users) where r is the 0-based
    rank of the first user in the tie block, so users with equal counts always share a group
    (groups are equal-sized up to ties; a group can be empty when one count dominates).
    """
    if n_groups < 1:
        raise DataError(f"n_groups must be >= 1, got {n_groups}")
    counts = np.asarray(user_counts).ravel()
    if not counts.size:
        return np.zeros(0, dtype=np.int64)
    r = rankdata(counts, method="min").astype(np.int64) - 1
    return r * n_groups // counts.size


def grouped_means(values: np.ndarray, groups: np.ndarray) -> dict[int, float]:
    """{group label: mean of ``values`` over that group's users, NaNs dropped} for every label present.

    A group whose values are all NaN maps to NaN.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    groups = np.asarray(groups).ravel()
    if values.shape != groups.shape:
        raise DataError(f"values has {values.size} entries but groups has {groups.size}")
    labels, inv = np.unique(groups, return_inverse=True)
    ok = ~np.isnan(values)
    sums = np.bincount(inv[ok], weights=values[ok], minlength=labels.size)
    counts = np.bincount(inv[ok], minlength=labels.size)
    return {int(g): (float(s / c) if c else float("nan")) for g, s, c in zip(labels, sums, counts, strict=True)}
