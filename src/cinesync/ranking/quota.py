"""Unified movie + TV lists with a controlled domain mix, vectorised over a batch of users.

``mix_topk(scores, domains, k, tv_share=0.3)`` returns top-k lists in which round(0.3 * k) slots go to
the best TV items and the rest to the best non-TV items (movie and other); ``quota={"movie": 6, "tv": 4}``
gives explicit per-domain slot counts (domains not named get no slots). The chosen items are
interleaved by rank: the j-th of a domain's q items sits at fractional position (j + 0.5) / q, so a
0.3 share spreads TV items through the list instead of stacking them (ties: higher score first).
When a domain has fewer candidates than slots (after exclusion / candidate masks), its unused slots go
to the best remaining candidates of the other slot-holding domains, appended at the end; a row with
fewer than k candidates in all is padded with -1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp

from cinesync.data.dataset import DOMAINS
from cinesync.errors import ConfigError, DataError
from cinesync.ranking import mask_items, topk

__all__ = ["domain_quota", "interleave_order", "mix_select", "mix_topk"]


def domain_quota(k: int, tv_share: float | None = None, quota: Mapping[str, int] | None = None
                 ) -> dict[str, int]:
    """Slots per group for a list of ``k``: {"tv": round(k * tv_share), "rest": k - that} from a share,
    or the validated explicit ``quota`` (domain -> non-negative slots summing to k). Exactly one is given."""
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if (tv_share is None) == (quota is None):
        raise ConfigError("give exactly one of tv_share (a fraction in [0, 1]) or quota (domain -> slots)")
    if tv_share is not None:
        share = float(tv_share)
        if not 0.0 <= share <= 1.0:  # also rejects NaN
            raise ConfigError(f"tv_share must be in [0, 1], got {tv_share}")
        n_tv = int(np.floor(k * share + 0.5))
        return {"tv": n_tv, "rest": k - n_tv}
    assert quota is not None
    bad = sorted(set(quota) - set(DOMAINS))
    if bad:
        raise ConfigError(f"quota domains must be among {DOMAINS}, got {bad}")
    if any(int(v) != v or v < 0 for v in quota.values()):
        raise ConfigError(f"quota slots must be non-negative integers, got {dict(quota)}")
    if sum(quota.values()) != k:
        raise ConfigError(f"quota slots must sum to k={k}, got {sum(quota.values())} ({dict(quota)})")
    return {d: int(v) for d, v in quota.items()}


def _group_masks(domains: np.ndarray, groups: dict[str, int]) -> np.ndarray:
    """(G, m) bool membership of each item in each slot group ("rest" = every non-TV item)."""
    dom = np.asarray(domains).astype(str)
    bad = sorted(set(np.unique(dom)) - set(DOMAINS))
    if bad:
        raise DataError(f"item domains must be among {DOMAINS}, got {bad[:5]}")
    return np.stack([dom != "tv" if g == "rest" else dom == g for g in groups])


def interleave_order(rank: np.ndarray, slots: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Positions order (n, c) of candidates with within-group ``rank`` (n, c) in groups of ``slots``
    (n, c) slots each: sort key (rank + 0.5) / slots, then higher ``score``. Returns argsort indices."""
    key = (rank + 0.5) / np.maximum(slots, 1)
    return np.lexsort((-score, key), axis=1)


def mix_topk(scores: np.ndarray, domains: np.ndarray, k: int, tv_share: float | None = None,
             quota: Mapping[str, int] | None = None, exclude: sp.spmatrix | None = None,
             allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` per row of ``scores`` (n, m) honouring the domain mix; returns (items (n, k) int64 with
    -1 pads, their scores (n, k)). ``domains`` (m,) holds each item's domain ("movie" | "tv" | "other");
    ``exclude`` / ``allowed`` as in ``cinesync.ranking.mask_items``. ``scores`` is not modified."""
    scores = np.asarray(scores, np.float32)
    if scores.ndim != 2:
        raise DataError(f"scores must be a 2-d (n_users, n_items) array, got shape {scores.shape}")
    if len(domains) != scores.shape[1]:
        raise DataError(f"domains has {len(domains)} entries for {scores.shape[1]} items")
    groups = domain_quota(k, tv_share, quota)
    masks = _group_masks(domains, groups)
    base = mask_items(scores.copy(), exclude, allowed)
    n, g_n = scores.shape[0], len(groups)
    idx = np.empty((n, g_n, k), np.int64)
    val = np.empty((n, g_n, k), np.float32)
    for g in range(g_n):
        s = np.where(masks[g][None, :], base, -np.inf).astype(np.float32)
        idx[:, g], val[:, g] = topk(s, k)
    q = np.asarray(list(groups.values()), np.int64)
    j = np.arange(k)
    valid = idx >= 0
    chosen = valid & (j[None, None, :] < q[None, :, None])
    short = k - chosen.sum(axis=(1, 2))  # (n,) slots left unused by domains without enough candidates
    flat = (lambda a: a.reshape(n, g_n * k))
    left = flat(valid & ~chosen)
    left_val = np.where(left, flat(val), -np.inf)
    order = np.argsort(-left_val, axis=1, kind="stable")
    left_rank = np.empty_like(order)
    np.put_along_axis(left_rank, order, np.arange(g_n * k)[None, :].repeat(n, 0), axis=1)
    fill = left & (left_rank < short[:, None])
    rank = flat(np.broadcast_to(j, (n, g_n, k)).astype(np.float64))
    slots = flat(np.broadcast_to(q[None, :, None], (n, g_n, k)).astype(np.float64))
    # chosen items: key in [0, 1); fillers after them in score order; the rest never
    key_rank = np.where(flat(chosen), rank, np.where(fill, k + left_rank, np.inf))
    key_slots = np.where(flat(chosen), slots, 1.0)
    pos = interleave_order(key_rank, key_slots, np.where(np.isfinite(left_val) | flat(chosen), flat(val), 0.0))
    pos = pos[:, :k]
    out_idx = np.take_along_axis(flat(idx), pos, axis=1)
    out_val = np.take_along_axis(flat(val), pos, axis=1)
    used = np.take_along_axis(flat(chosen) | fill, pos, axis=1)
    out_idx[~used] = -1
    out_val[~used] = -np.inf
    return out_idx, out_val


def mix_select(is_tv: np.ndarray, k: int, tv_share: float, pick: Callable[[np.ndarray, int], np.ndarray],
               relevance: np.ndarray) -> np.ndarray:
    """Positions of the ``k`` items to show from a candidate pool of P items, honouring ``tv_share``.

    is_tv: (P,) bool. pick(positions, q) -> up to q of ``positions`` in display order (e.g. MMR within
    the group). A group with fewer candidates than its slots gives the rest to the other group. The two
    picks are interleaved by rank as in ``mix_topk`` (ties: higher ``relevance`` (P,) first).
    """
    slots = domain_quota(k, tv_share=tv_share)
    tv, rest = np.flatnonzero(is_tv), np.flatnonzero(~np.asarray(is_tv, bool))
    q_tv = min(slots["tv"], len(tv))
    q_rest = min(k - q_tv, len(rest))
    q_tv = min(k - q_rest, len(tv))
    a = np.asarray(pick(tv, q_tv), np.int64) if q_tv else np.zeros(0, np.int64)
    b = np.asarray(pick(rest, q_rest), np.int64) if q_rest else np.zeros(0, np.int64)
    pos = np.concatenate([a, b])
    rank = np.concatenate([np.arange(len(a)), np.arange(len(b))]).astype(np.float64)
    size = np.concatenate([np.full(len(a), max(len(a), 1)), np.full(len(b), max(len(b), 1))]).astype(np.float64)
    rel = np.asarray(relevance, np.float64)[pos]
    return pos[interleave_order(rank[None, :], size[None, :], rel[None, :])[0]]
