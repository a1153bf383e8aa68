"""Cross-domain evaluation protocols on one user population that rates both films and series.

``cold_start_split`` (source -> target, e.g. movie -> tv):
  1. positives: every rated interaction (``min_rating`` optionally drops lower ratings first);
  2. eligible users: >= ``min_source`` source-domain AND >= ``min_target`` target-domain items;
  3. a seeded permutation (numpy ``default_rng(seed)``) of the eligible users gives ``n_test`` test
     users, then ``n_valid`` different validation users;
  4. for test (valid) users ALL target-domain rows become test (valid) targets, their source rows stay in
     train (they are the query history) and their rows of any third domain ("other": OVA, Special, ...)
     are dropped, so the query history is the source domain alone;
  5. every other user keeps all rows (movie, tv and other) in train: "other" items are extra training
     signal for the joint models, never ranked and never targets.

``warm_split`` (target, e.g. tv): eligible users have >= ``min_target`` target items; per held-out user a
seeded ``hide_frac`` of their target items (rounded, at least 1, at most all but 1) becomes the
target, everything else they rated (all domains) stays in train.

Ranking is full ranking over all items of the target domain (``CrossDomainSplit.candidates``),
excluding the user's training items. Models are fitted on ``split.train`` only (validation users'
held-out rows are in neither phase's training data); hyper-parameters are chosen on valid users.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from cinesync.data.dataset import DOMAINS, Interactions
from cinesync.data.splits import DROP, TEST, TRAIN, VALID, Split, counts_line, from_labels
from cinesync.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: protocol name -> (kind, source domain or None, target domain)
PROTOCOLS: dict[str, tuple[str, str | None, str]] = {
    "movie-tv": ("cold", "movie", "tv"),
    "tv-movie": ("cold", "tv", "movie"),
    "warm-tv": ("warm", None, "tv"),
}


@dataclass(frozen=True, eq=False)
class CrossDomainSplit:
    """A ``Split`` (test_history="train") plus what the cross-domain protocols add.

    candidates: (n_items,) bool — the items that may be ranked (the target domain).
    test_users / valid_users: (n,) int32 user indices, disjoint.
    """

    protocol: str
    split: Split
    source: str | None
    target: str
    candidates: np.ndarray
    test_users: np.ndarray
    valid_users: np.ndarray

    def summary(self) -> dict:
        return {"protocol": self.protocol, "source": self.source, "target": self.target,
                "candidates": int(self.candidates.sum()), "test_users": len(self.test_users),
                "valid_users": len(self.valid_users), **self.split.summary(), "params": self.split.params,
                "log": list(self.split.log)}


def _check_domain(data: Interactions, domain: str, label: str) -> np.ndarray:
    if domain not in DOMAINS:
        raise ConfigError(f"{label} domain must be one of {DOMAINS}, got {domain!r}")
    mask = data.catalog.domain_mask(domain)
    if not mask.any():
        raise DataError(f"{data.name!r} has no items of the {label} domain {domain!r}")
    return mask


def _positives(data: Interactions, min_rating: float | None) -> tuple[np.ndarray, str]:
    """(len(data),) bool rows that count as positives, and the rule in words."""
    if min_rating is None:
        return np.ones(len(data), bool), "every rated interaction is a positive"
    if data.rating is None:
        raise ConfigError(f"min_rating={min_rating} needs ratings, but {data.name!r} has none")
    return data.rating >= min_rating, f"positives: rating >= {min_rating:g} (lower ratings dropped)"


def _per_user(data: Interactions, rows: np.ndarray) -> np.ndarray:
    """(n_users,) number of selected rows per user."""
    return np.bincount(data.user[rows], minlength=data.n_users)


def _draw_users(eligible: np.ndarray, n_test: int, n_valid: int, seed: int, rule: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded disjoint (test, valid) user index arrays drawn from ``eligible`` (sorted each)."""
    if n_test < 1 or n_valid < 1:
        raise ConfigError(f"need n_test >= 1 and n_valid >= 1, got {n_test=}, {n_valid=}")
    n = len(eligible)
    if n < 2:
        raise DataError(f"cross-domain split: {n} users satisfy '{rule}'; need at least 2 overlapping users "
                        "(one test, one validation)")
    if n < n_test + n_valid:  # shrink both parts in proportion, keep at least one of each
        t = min(n - 1, max(1, round(n * n_test / (n_test + n_valid))))
        log.warning("cross-domain split: only %d users satisfy '%s'; using %d test and %d valid users "
                    "instead of %d and %d", n, rule, t, n - t, n_test, n_valid)
        n_test, n_valid = t, n - t
    perm = np.random.default_rng(seed).permutation(eligible)
    return np.sort(perm[:n_test]).astype(np.int32), np.sort(perm[n_test:n_test + n_valid]).astype(np.int32)


def _held(n_users: int, test_u: np.ndarray, valid_u: np.ndarray) -> np.ndarray:
    """(n_users,) int8: 0 for a training user, TEST / VALID for the held-out ones."""
    held = np.zeros(n_users, np.int8)
    held[test_u], held[valid_u] = TEST, VALID
    return held


def cold_start_split(data: Interactions, source: str = "movie", target: str = "tv", n_test: int = 500,
                     n_valid: int = 300, min_source: int = 5, min_target: int = 5, seed: int = 0,
                     min_rating: float | None = None) -> CrossDomainSplit:
    """Hide ALL target-domain items of the test/valid users; rank target items from the source history."""
    if source == target:
        raise ConfigError(f"source and target domains must differ, both are {source!r}")
    src_item = _check_domain(data, source, "source")
    tgt_item = _check_domain(data, target, "target")
    pos, pos_rule = _positives(data, min_rating)
    is_src, is_tgt = pos & src_item[data.item], pos & tgt_item[data.item]
    rule = f">= {min_source} {source} and >= {min_target} {target} items"
    eligible = np.flatnonzero((_per_user(data, is_src) >= min_source) & (_per_user(data, is_tgt) >= min_target))
    test_u, valid_u = _draw_users(eligible, n_test, n_valid, seed, rule)
    held = _held(data.n_users, test_u, valid_u)
    h = held[data.user]
    lab = np.full(len(data), TRAIN, np.int8)
    lab[(h != 0) & is_tgt] = h[(h != 0) & is_tgt]
    lab[(h != 0) & ~is_src & ~is_tgt] = DROP  # other domains of held-out users: not part of the query
    lab[~pos] = DROP
    name = f"{source}-{target}"
    lines = [counts_line(data, f"{name} input"), pos_rule,
             f"{name}: {len(eligible):,} users with {rule}; seed {seed}: {len(test_u):,} test, "
             f"{len(valid_u):,} valid users; all their {target} items held out, their {source} items are the "
             f"history, their other-domain items dropped"]
    params = {"kind": "cold", "source": source, "target": target, "n_test": len(test_u), "n_valid": len(valid_u),
              "min_source": min_source, "min_target": min_target, "seed": seed, "min_rating": min_rating}
    split = from_labels(data, lab, name, params, "train", lines)
    return CrossDomainSplit(name, split, source, target, tgt_item, test_u, valid_u)


def warm_split(data: Interactions, target: str = "tv", n_test: int = 500, n_valid: int = 300,
               min_target: int = 5, hide_frac: float = 0.2, seed: int = 0,
               min_rating: float | None = None) -> CrossDomainSplit:
    """Hide a seeded ``hide_frac`` of each held-out user's target items; the rest of their data is history."""
    if not 0.0 < hide_frac < 1.0:
        raise ConfigError(f"hide_frac must be in (0, 1), got {hide_frac}")
    if min_target < 2:
        raise ConfigError(f"warm split needs min_target >= 2 (one item hidden, one kept), got {min_target}")
    tgt_item = _check_domain(data, target, "target")
    pos, pos_rule = _positives(data, min_rating)
    is_tgt = pos & tgt_item[data.item]
    counts = _per_user(data, is_tgt)
    rule = f">= {min_target} {target} items"
    test_u, valid_u = _draw_users(np.flatnonzero(counts >= min_target), n_test, n_valid, seed, rule)
    held = _held(data.n_users, test_u, valid_u)
    rows = np.flatnonzero(is_tgt & (held[data.user] != 0))
    rng = np.random.default_rng(seed + 1)
    rows = rows[np.lexsort((rng.random(len(rows)), data.user[rows]))]  # grouped by user, shuffled within
    users = data.user[rows]
    n_u = counts[users]
    pos_in_user = np.arange(len(rows)) - np.searchsorted(users, users)  # users sorted: first index per user
    n_hide = np.clip(np.rint(hide_frac * n_u), 1, n_u - 1)
    lab = np.full(len(data), TRAIN, np.int8)
    hide = rows[pos_in_user < n_hide]
    lab[hide] = held[data.user[hide]]
    lab[~pos] = DROP
    name = f"warm-{target}"
    lines = [counts_line(data, f"{name} input"), pos_rule,
             f"{name}: {int((counts >= min_target).sum()):,} users with {rule}; seed {seed}: {len(test_u):,} test, "
             f"{len(valid_u):,} valid users; {hide_frac:.0%} of their {target} items held out (>= 1, and >= 1 "
             f"kept), everything else they rated stays in train"]
    params = {"kind": "warm", "target": target, "n_test": len(test_u), "n_valid": len(valid_u),
              "min_target": min_target, "hide_frac": hide_frac, "seed": seed, "min_rating": min_rating}
    split = from_labels(data, lab, name, params, "train", lines)
    return CrossDomainSplit(name, split, None, target, tgt_item, test_u, valid_u)


def make_split(data: Interactions, protocol: str, **kwargs) -> CrossDomainSplit:
    """Build one of ``PROTOCOLS`` ("movie-tv", "tv-movie", "warm-tv") with the given options."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown cross-domain protocol {protocol!r}; choose from {list(PROTOCOLS)}")
    kind, source, target = PROTOCOLS[protocol]
    if kind == "cold":
        return cold_start_split(data, source=source, target=target, **kwargs)
    kwargs.pop("min_source", None)
    return warm_split(data, target=target, **kwargs)
