"""Preprocessing filters: k-core, rating threshold, de-duplication, all-positive.

Each returns a new ``Interactions`` sharing the input's id indexes (``with_rows`` / ``with_ratings``),
so indices still agree with the unfiltered data; call ``.reindexed()`` for compact indexes. Each logs
one line with a summary dict of counts before/after (``summary`` builds it).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from cinesync.data.dataset import Interactions
from cinesync.errors import ConfigError, DataError

log = logging.getLogger(__name__)

DedupPolicy = Literal["last", "first", "max", "mean", "none"]
DEDUP_POLICIES = ("last", "first", "max", "mean", "none")


def counts(data: Interactions) -> dict[str, int]:
    """Interactions and *active* users/items (indexes keep inactive ids, so n_users would overstate)."""
    return {"interactions": len(data), "users": int(np.count_nonzero(data.user_counts())),
            "items": int(np.count_nonzero(data.item_counts()))}


def summary(step: str, before: Interactions, after: Interactions, **params: object) -> dict:
    """{step, params..., before: counts, after: counts}, logged at INFO."""
    s = {"step": step, **params, "before": counts(before), "after": counts(after)}
    b, a = s["before"], s["after"]
    log.info("%s %s: %s -> %s interactions, %s -> %s users, %s -> %s items | %s", step,
             " ".join(f"{k}={v}" for k, v in params.items()), f"{b['interactions']:,}", f"{a['interactions']:,}",
             f"{b['users']:,}", f"{a['users']:,}", f"{b['items']:,}", f"{a['items']:,}", s)
    return s


def kcore(data: Interactions, user_k: int, item_k: int) -> Interactions:
    """Largest subset where every user has >= ``user_k`` and every item >= ``item_k`` interactions.

    Removes rows of too-rare users and items, recounts, and repeats until nothing changes
    (removing an item can push a user below ``user_k``). Counts are rows, so repeated
    (user, item) pairs count each time: ``dedup`` first if that matters.
    """
    if user_k < 0 or item_k < 0:
        raise ConfigError(f"kcore needs user_k, item_k >= 0, got {user_k}, {item_k}")
    keep = np.ones(len(data), bool)
    rounds = 0
    while True:
        uc = np.bincount(data.user[keep], minlength=data.n_users)
        ic = np.bincount(data.item[keep], minlength=data.n_items)
        new = keep & (uc[data.user] >= user_k) & (ic[data.item] >= item_k)
        if np.array_equal(new, keep):
            break
        keep = new
        rounds += 1
    out = data.with_rows(keep)
    summary("kcore", data, out, user_k=user_k, item_k=item_k, rounds=rounds)
    return out


def threshold(data: Interactions, min_rating: float, binarize: bool = True) -> Interactions:
    """Rows with rating >= ``min_rating`` (explicit -> implicit); ``binarize`` sets their rating to 1.0."""
    _need_ratings(data, "threshold")
    keep = data.rating >= np.float32(min_rating)
    out = data.with_rows(keep)
    if binarize:
        out = out.with_ratings(np.ones(len(out), np.float32))
    summary("threshold", data, out, min_rating=min_rating, binarize=binarize)
    return out


def dedup(data: Interactions, policy: DedupPolicy = "last") -> Interactions:
    """One row per repeated (user, item) pair.

    "last" / "first": the latest / earliest by timestamp, ties (and data without timestamps) by file
    order. "max": the highest rating (ties: the latest). "mean": the latest row carrying the mean of the
    pair's ratings. "none": unchanged. Kept rows stay in file order.
    """
    if policy not in DEDUP_POLICIES:
        raise ConfigError(f"dedup policy must be one of {DEDUP_POLICIES}, got {policy!r}")
    if policy == "none" or len(data) == 0:
        summary("dedup", data, data, policy=policy, duplicates=0)
        return data
    if policy in ("max", "mean"):
        _need_ratings(data, f"dedup(policy={policy!r})")
    key = data.user.astype(np.int64) * data.n_items + data.item
    pos = np.arange(len(data))
    time = data.timestamp if data.timestamp is not None else np.zeros(len(data), np.int64)
    sort_keys = (pos, time, data.rating, key) if policy == "max" else (pos, time, key)
    order = np.lexsort(sort_keys)  # by key, then (rating,) time, file position
    sk = key[order]
    starts = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    ends = np.concatenate([starts[1:], [len(sk)]])
    chosen = order[starts] if policy == "first" else order[ends - 1]
    rating = None
    if policy == "mean":
        sums = np.add.reduceat(data.rating[order].astype(np.float64), starts)
        rating = (sums / (ends - starts)).astype(np.float32)
    idx = np.argsort(chosen, kind="stable")
    out = data.with_rows(chosen[idx])
    if rating is not None:
        out = out.with_ratings(rating[idx])
    summary("dedup", data, out, policy=policy, duplicates=len(data) - len(out))
    return out


def positive(data: Interactions) -> Interactions:
    """Every interaction as a positive: rating 1.0 for all rows, timestamps kept."""
    out = data.with_ratings(np.ones(len(data), np.float32))
    summary("positive", data, out)
    return out


def _need_ratings(data: Interactions, what: str) -> None:
    if data.rating is None:
        raise DataError(f"{what} needs ratings, but {data.name!r} is implicit (no rating column)")
