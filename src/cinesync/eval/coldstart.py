"""Cold-start protocols: brand-new items, and light users (few training interactions).

New items: a seeded random ``frac`` of the interacted items is held out entirely (test items),
and another ``valid_frac`` as validation items; every interaction with either set is removed
from train. A query is a user with >= 1 interaction with the held-out set and >= 1 training
interaction: history = the user's training items, candidates = ONLY the held-out items
(``ranking.recommend(allowed=...)``), relevant = the user's held-out items. Nothing is
excluded: no held-out item is in any training history. The held-out items' user tags are
removed from the catalogue too (a tag is an interaction). Ties are broken in a seeded random
item order, so models that give every new item the same score rank like random.

Light users: users are split (seeded) into a validation and a test group; in each group a
seeded ``light_frac`` of users is truncated to their first n interactions in time order,
n uniform in 1..``max_n`` ("light" users), the others keep everything before their last
``n_targets`` interactions ("regular"). Targets are the ``n_targets`` interactions that follow
the training prefix; later ones are dropped. Full ranking, excluding the training items. This
simulates light users honestly on data where every user has many ratings (ml-latest-small: >= 20).

``random_expectation`` gives the exact expected Recall@K / NDCG@K of a uniformly random ranking
of C candidates with R relevant: recall = min(K, C) / C, DCG = (R / C) * sum_{i <= min(K, C)}
1 / log2(i + 1), divided by the ideal DCG of min(R, K) hits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from cinesync.data.dataset import Interactions, ItemCatalog
from cinesync.data.history import HistoryBatch
from cinesync.data.splits import DROP, TEST, TRAIN, VALID, Split, from_labels
from cinesync.errors import ConfigError, DataError
from cinesync.eval.metrics import ranking_metrics
from cinesync.eval.stats import mean_ci
from cinesync.models.base import Recommender
from cinesync.ranking import recommend

log = logging.getLogger(__name__)


# ---- new items ----------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ColdItemSplit:
    """train: interactions with neither held-out item set. valid / test: the interactions with
    ``valid_items`` / ``test_items`` (sorted item indices). All share ``data``'s id indexes."""

    train: Interactions
    valid: Interactions
    test: Interactions
    valid_items: np.ndarray
    test_items: np.ndarray
    params: dict


@dataclass(frozen=True, eq=False)
class CandidateQueries:
    """history: (n rows) training histories; targets: (n, n_items) CSR of relevant held-out items;
    allowed: (n_items,) bool candidate mask; users: (n,) user indices; dropped_users: users with
    held-out interactions but no training history (not queried)."""

    history: HistoryBatch
    targets: sp.csr_matrix
    allowed: np.ndarray
    users: np.ndarray
    dropped_users: int


def _without_tags(data: Interactions, items: np.ndarray) -> Interactions:
    """``data`` with the user tags of ``items`` removed from its catalogue (same id indexes)."""
    frame = data.catalog.frame.drop(columns=["item_id"])
    drop = np.zeros(data.n_items, bool)
    drop[items] = True
    frame["tags"] = [() if d else t for d, t in zip(drop, frame["tags"], strict=True)]
    return Interactions(data.users, data.items, data.user, data.item, data.rating, data.timestamp,
                        ItemCatalog(data.items, frame), data.name)


def new_item_split(data: Interactions, frac: float = 0.1, valid_frac: float = 0.1, seed: int = 0,
                   strip_tags: bool = True) -> ColdItemSplit:
    """Hold out a seeded ``frac`` (test) and ``valid_frac`` (validation) of the interacted items entirely.

    strip_tags: also remove the held-out items' user tags from the catalogue (a tag is an interaction:
    a brand-new item has none), so no model sees them."""
    if not (0.0 < frac < 1.0 and 0.0 <= valid_frac < 1.0 and frac + valid_frac < 1.0):
        raise ConfigError(f"need 0 < frac, 0 <= valid_frac and frac + valid_frac < 1; got {frac}, {valid_frac}")
    active = np.flatnonzero(data.item_counts() > 0)
    if len(active) < 3:
        raise DataError(f"new-item split needs at least 3 interacted items, got {len(active)}")
    perm = np.random.default_rng(seed).permutation(active)
    n_test = max(1, int(round(frac * len(active))))
    n_valid = int(round(valid_frac * len(active)))
    test_items, valid_items = np.sort(perm[:n_test]), np.sort(perm[n_test:n_test + n_valid])
    if strip_tags:
        data = _without_tags(data, np.concatenate([test_items, valid_items]))
    role = np.zeros(data.n_items, np.int8)
    role[valid_items], role[test_items] = VALID, TEST
    r = role[data.item]
    split = ColdItemSplit(data.with_rows(r == TRAIN, name=f"{data.name}:train"),
                          data.with_rows(r == VALID, name=f"{data.name}:valid-items"),
                          data.with_rows(r == TEST, name=f"{data.name}:test-items"),
                          valid_items, test_items, {"frac": frac, "valid_frac": valid_frac, "seed": seed})
    log.info("new items: %d test + %d valid items held out; train %s, valid %s, test %s interactions",
             n_test, n_valid, f"{len(split.train):,}", f"{len(split.valid):,}", f"{len(split.test):,}")
    return split


def cold_item_queries(split: ColdItemSplit, part: str = "test") -> CandidateQueries:
    """Queries ranking only the ``part`` ("valid" | "test") held-out items."""
    if part not in ("valid", "test"):
        raise ConfigError(f"part must be 'valid' or 'test', got {part!r}")
    held, items = (split.valid, split.valid_items) if part == "valid" else (split.test, split.test_items)
    has_target = held.user_counts() > 0
    has_history = split.train.user_counts() > 0
    users = np.flatnonzero(has_target & has_history).astype(np.int32)
    allowed = np.zeros(split.train.n_items, bool)
    allowed[items] = True
    return CandidateQueries(split.train.histories(users), held.csr()[users], allowed, users,
                            int((has_target & ~has_history).sum()))


def rank_candidates(model: Recommender, queries: CandidateQueries, k: int, batch_size: int = 1024,
                    progress: bool = False, tie_seed: int | None = 0) -> np.ndarray:
    """(n, k) top-k item indices among ``queries.allowed`` for every query (-1 pads).

    tie_seed: equal scores are ordered by a seeded random item order (None: by item index, which
    follows the data file and is not neutral). A model that cannot tell new items apart (constant
    scores: popularity, EASE) then ranks them like random, as it should.
    """
    n = len(queries.history)
    m = len(queries.allowed)
    perm = np.arange(m) if tie_seed is None else np.random.default_rng(tie_seed).permutation(m)
    out = np.full((n, k), -1, np.int64)
    for s in tqdm(range(0, n, batch_size), desc=f"{model.name} cold items", disable=not progress, leave=False):
        rows = np.arange(s, min(s + batch_size, n))
        scores = model.score(queries.history.select(rows))[:, perm]
        top, _ = recommend(scores, k, allowed=queries.allowed[perm])
        out[rows] = np.where(top >= 0, perm[np.maximum(top, 0)], -1)
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


# ---- light users ----------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LightUserSplit:
    """split: train = every user's training prefix, valid / test = the targets of the validation / test
    user group. light: (n_users,) bool, truncated to a short history. n_train: (n_users,) prefix length."""

    split: Split
    light: np.ndarray
    n_train: np.ndarray


def light_user_split(data: Interactions, light_frac: float = 0.5, max_n: int = 5, n_targets: int = 10,
                     valid_frac: float = 0.5, seed: int = 0) -> LightUserSplit:
    """Simulated light users (module docstring)."""
    if not (0.0 < light_frac <= 1.0 and 0.0 < valid_frac < 1.0 and max_n >= 1 and n_targets >= 1):
        raise ConfigError(f"bad light-user split options: light_frac={light_frac}, valid_frac={valid_frac}, "
                          f"max_n={max_n}, n_targets={n_targets}")
    rng = np.random.default_rng(seed)
    counts = data.user_counts()
    users = np.flatnonzero(counts >= 2)
    if len(users) < 2:
        raise DataError("light-user split needs at least 2 users with >= 2 interactions")
    perm = rng.permutation(users)
    valid_group = np.zeros(data.n_users, bool)
    valid_group[perm[: int(round(valid_frac * len(users)))]] = True
    light = np.zeros(data.n_users, bool)
    light[users[rng.random(len(users)) < light_frac]] = True
    n_train = np.where(light, np.minimum(rng.integers(1, max_n + 1, size=data.n_users), counts - 1),
                       np.maximum(counts - n_targets, 1))
    n_train = np.where(counts >= 2, n_train, counts)
    order = data.order
    u = data.user[order]
    pos = np.arange(len(order)) - np.concatenate([[0], np.cumsum(counts)[:-1]])[u]
    target_label = np.where(valid_group[u], VALID, TEST)
    lab = np.where(pos < n_train[u], TRAIN, np.where(pos < n_train[u] + n_targets, target_label, DROP))
    labels = np.empty(len(data), np.int8)
    labels[order] = lab
    params = {"light_frac": light_frac, "max_n": max_n, "n_targets": n_targets, "valid_frac": valid_frac,
              "seed": seed}
    lines = [f"light users: {int(light.sum())} of {len(users)} users truncated to 1..{max_n} interactions"]
    split = from_labels(data, labels, "light-users", params, "train", lines)
    return LightUserSplit(split, light & (counts >= 2), n_train.astype(np.int64))


# ---- summaries ----------------------------------------------------------------
def per_user_metrics(top: np.ndarray, targets: sp.csr_matrix, ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-user recall@K for every K and ndcg@K (the figures the cold-start tables report)."""
    m = ranking_metrics(top, targets, ks)
    return {k: v for k, v in m.items() if k.split("@")[0] in ("recall", "ndcg")}


def summarise(per_user: dict[str, np.ndarray], mask: np.ndarray | None = None, seed: int = 0) -> dict[str, dict]:
    """{metric: {"mean", "lo", "hi", "n"}} with bootstrap 95 % CIs, over the users in ``mask`` (default all)."""
    out = {}
    for name, v in per_user.items():
        x = v if mask is None else v[mask]
        mean, lo, hi = mean_ci(x, seed=seed)
        out[name] = {"mean": mean, "lo": lo, "hi": hi, "n": int(np.isfinite(x).sum())}
    return out
