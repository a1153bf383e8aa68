"""Cold-start splits: brand-new items, and light users (few training interactions).

New items: a seeded random ``frac`` of the interacted items is held out entirely (test items),
and another ``valid_frac`` as validation items; every interaction with either set is removed
from train. A query is a user with >= 1 interaction with the held-out set and >= 1 training
interaction: history = the user's training items, candidates = ONLY the held-out items
(the ``allowed`` mask), relevant = the user's held-out items. Nothing is excluded: no held-out
item is in any training history. The held-out items' user tags are removed from the catalogue
too (a tag is an interaction). ``with_new_items`` is the lighter variant for an existing split:
a seeded share of the trained items leaves train and valid and stays in test.

Light users: users are split (seeded) into a validation and a test group; in each group a
seeded ``light_frac`` of users is truncated to their first n interactions in time order,
n uniform in 1..``max_n`` ("light" users), the others keep everything before their last
``n_targets`` interactions ("regular"). Targets are the ``n_targets`` interactions that follow
the training prefix; later ones are dropped. Full ranking, excluding the training items. This
simulates light users honestly on data where every user has many ratings (ml-latest-small: >= 20).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.data.splits import DROP, TEST, TRAIN, VALID, Split, from_labels
from cinesync.errors import ConfigError, DataError

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
                        data.catalog.with_frame(frame), data.name)


def shuffled_items(item_counts: np.ndarray, seed: int) -> np.ndarray:
    """The items with at least one interaction, in a seeded random order (the draw of every new-item split)."""
    return np.random.default_rng(seed).permutation(np.flatnonzero(np.asarray(item_counts) > 0))


def new_item_split(data: Interactions, frac: float = 0.1, valid_frac: float = 0.1, seed: int = 0,
                   strip_tags: bool = True) -> ColdItemSplit:
    """Hold out a seeded ``frac`` (test) and ``valid_frac`` (validation) of the interacted items entirely.

    strip_tags: also remove the held-out items' user tags from the catalogue (a tag is an interaction:
    a brand-new item has none), so no model sees them."""
    if not (0.0 < frac < 1.0 and 0.0 <= valid_frac < 1.0 and frac + valid_frac < 1.0):
        raise ConfigError(f"need 0 < frac, 0 <= valid_frac and frac + valid_frac < 1; got {frac}, {valid_frac}")
    perm = shuffled_items(data.item_counts(), seed)
    if len(perm) < 3:
        raise DataError(f"new-item split needs at least 3 interacted items, got {len(perm)}")
    n_test = max(1, int(round(frac * len(perm))))
    n_valid = int(round(valid_frac * len(perm)))
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


def with_new_items(split: Split, frac: float, seed: int) -> tuple[Split, np.ndarray]:
    """``split`` with a seeded ``frac`` of its trained items removed from train and valid (kept in test):
    (that split, (n_items,) bool mask of the new items)."""
    if not 0.0 < frac < 1.0:
        raise ConfigError(f"frac must be in (0, 1), got {frac}")
    pool = shuffled_items(split.train.item_counts(), seed)
    new = np.zeros(split.n_items, bool)
    new[pool[: max(1, round(frac * len(pool)))]] = True
    train, valid = (part.with_rows(~new[part.item]) for part in (split.train, split.valid))
    line = (f"new items: {int(new.sum())} of {len(pool)} trained items removed from train/valid "
            f"({len(split.train) - len(train)} train, {len(split.valid) - len(valid)} valid interactions)")
    log.info(line)
    return dataclasses.replace(split, train=train, valid=valid, name=f"{split.name}+new-items",
                               log=[*split.log, line]), new


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
