"""Deterministic train/valid/test splits (leave-last-out, temporal, per-user ratio, k-fold).

Every split labels each row of one ``Interactions`` as train / valid / test (or dropped)
and keeps the parent's id indexes, so item indices agree across the three parts. The
``Split`` also builds the evaluation queries (history, targets, items to exclude).
``write_split`` / ``read_split`` store a split as a directory of three TSV files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError, DataError

log = logging.getLogger(__name__)

TestHistory = Literal["train+valid", "train"]
Queries = tuple[HistoryBatch, sp.csr_matrix, sp.csr_matrix, np.ndarray]
TRAIN, VALID, TEST, DROP = 0, 1, 2, -1


@dataclass(frozen=True, eq=False)
class Split:
    """Train / valid / test parts of one data set, sharing the same ``users`` / ``items`` IdIndex.

    name: protocol or split kind ("loo", "recbole-8-1-1", "kfold-1of5", "dir:/path", ...).
    params: everything needed to recreate the split (seed, ratios, thresholds, ...).
    test_history: what a model sees as a user's history when scoring test — "train+valid"
        (sequential protocols: the valid item precedes the test item) or "train".
    log: human-readable lines with counts before/after each preprocessing/split step.
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    name: str
    params: dict
    test_history: TestHistory
    log: list[str]

    def __post_init__(self) -> None:
        for part in (self.valid, self.test):
            if part.users is not self.train.users or part.items is not self.train.items:
                raise DataError(f"split {self.name!r}: train/valid/test must share the same id indexes")
        if self.test_history not in ("train+valid", "train"):
            raise ConfigError(f"test_history must be 'train+valid' or 'train', got {self.test_history!r}")

    @property
    def n_users(self) -> int:
        return self.train.n_users

    @property
    def n_items(self) -> int:
        return self.train.n_items

    def valid_queries(self) -> Queries:
        """Queries for users with >= 1 valid item.

        Returns (history, targets, exclude, user_idx): history = each user's train items
        (time-ordered HistoryBatch, n rows); targets = (n, n_items) CSR of valid items;
        exclude = (n, n_items) CSR of train items; user_idx = (n,) int32 user indices.
        """
        users = np.flatnonzero(self.valid.user_counts() > 0).astype(np.int32)
        return (self.train.histories(users), self.valid.csr()[users], self.train.csr()[users], users)

    def test_queries(self) -> Queries:
        """Queries for users with >= 1 test item, as ``valid_queries``.

        history = train (+ valid when ``test_history == "train+valid"``), time-ordered with
        ties in train-then-valid order; exclude = the user's train + valid items (always);
        targets = the user's test items.
        """
        users = np.flatnonzero(self.test.user_counts() > 0).astype(np.int32)
        seen = Interactions.concat([self.train, self.valid])
        hist = seen if self.test_history == "train+valid" else self.train
        return hist.histories(users), self.test.csr()[users], seen.csr()[users], users

    def summary(self) -> dict:
        """Counts per part plus the size of the shared user/item universe."""
        out: dict = {"name": self.name, "test_history": self.test_history,
                     "users": self.n_users, "items": self.n_items}
        for label, part in (("train", self.train), ("valid", self.valid), ("test", self.test)):
            out[label] = len(part)
            out[f"{label}_users"] = int((part.user_counts() > 0).sum())
            out[f"{label}_items"] = int((part.item_counts() > 0).sum())
        return out


def counts_line(data: Interactions, label: str) -> str:
    """One log line: interactions, active users and active items of ``data``."""
    users = int((data.user_counts() > 0).sum())
    items = int((data.item_counts() > 0).sum())
    return f"{label}: {len(data):,} interactions, {users:,} users, {items:,} items"


def from_labels(data: Interactions, labels: np.ndarray, name: str, params: dict,
                test_history: TestHistory, lines: list[str]) -> Split:
    """Build a Split from a (len(data),) int8 label per row: 0 train, 1 valid, 2 test, -1 dropped."""
    parts = [data.with_rows(labels == k, name=f"{data.name}:{p}")
             for k, p in ((TRAIN, "train"), (VALID, "valid"), (TEST, "test"))]
    split = Split(parts[0], parts[1], parts[2], name, dict(params), test_history, list(lines))
    s = split.summary()
    split.log.append(f"{name}: train {s['train']:,} / valid {s['valid']:,} / test {s['test']:,} interactions; "
                     f"test users {s['test_users']:,}")
    for line in split.log:
        log.info(line)
    return split


def _position_in_user(user_sorted: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """0-based position of each row within its user's block, given rows sorted by user."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.arange(len(user_sorted)) - starts[user_sorted]


def _unsort(order: np.ndarray, labels_sorted: np.ndarray) -> np.ndarray:
    out = np.empty_like(labels_sorted)
    out[order] = labels_sorted
    return out


def leave_last_out(data: Interactions, n_valid: int = 1, n_test: int = 1) -> Split:
    """Per user, by time (ties in file order; file order when no timestamps): the last ``n_test``
    interactions are test, the ``n_valid`` before them valid, the rest train.

    Users with fewer than ``n_valid + n_test + 1`` interactions keep everything in train.
    """
    if n_test < 1 or n_valid < 0:
        raise ConfigError(f"leave_last_out needs n_test >= 1 and n_valid >= 0, got {n_test=}, {n_valid=}")
    order = data.order
    counts = data.user_counts()
    user_sorted = data.user[order]
    from_end = counts[user_sorted] - 1 - _position_in_user(user_sorted, counts)
    need = n_valid + n_test + 1
    eligible = counts[user_sorted] >= need
    lab = np.full(len(data), TRAIN, np.int8)
    lab[eligible & (from_end < n_test + n_valid)] = VALID
    lab[eligible & (from_end < n_test)] = TEST
    short = int(((counts > 0) & (counts < need)).sum())
    lines = [counts_line(data, "leave-last-out input"),
             f"leave-last-out: {short:,} users with fewer than {need} interactions kept entirely in train"]
    params = {"n_valid": n_valid, "n_test": n_test}
    return from_labels(data, _unsort(order, lab), "loo", params, "train+valid", lines)


def _cutoff(ts_sorted: np.ndarray, n_after: int) -> int:
    """The timestamp t such that about ``n_after`` rows have timestamp >= t (ties all go after)."""
    if n_after <= 0:
        return int(ts_sorted[-1]) + 1
    return int(ts_sorted[max(0, len(ts_sorted) - n_after)])


def temporal(data: Interactions, valid_time: int | None = None, test_time: int | None = None,
             valid_frac: float = 0.1, test_frac: float = 0.1,
             unseen: Literal["drop", "keep"] = "drop") -> Split:
    """Global time cut-offs: train = t < valid_time <= valid < test_time <= test.

    Missing cut-offs come from the timestamp distribution (the last ``test_frac`` of rows are
    test, the ``valid_frac`` before them valid; ties at a cut-off all go to the later part).
    Valid/test rows whose item or user never occurs in train are dropped (``unseen="drop"``)
    or kept; the counts are logged either way. test_history = "train+valid".
    """
    if data.timestamp is None:
        raise ConfigError(f"temporal split needs timestamps, but {data.name!r} has none")
    if unseen not in ("drop", "keep"):
        raise ConfigError(f"unseen must be 'drop' or 'keep', got {unseen!r}")
    if not (0 <= valid_frac < 1 and 0 <= test_frac < 1 and valid_frac + test_frac < 1):
        raise ConfigError(f"need 0 <= valid_frac, test_frac and valid_frac + test_frac < 1, "
                          f"got {valid_frac=}, {test_frac=}")
    ts = data.timestamp
    if len(ts) == 0:
        raise DataError(f"temporal split: {data.name!r} has no interactions")
    ts_sorted = np.sort(ts)
    n = len(ts)
    n_test, n_valid = round(test_frac * n), round(valid_frac * n)
    t_test = _cutoff(ts_sorted, n_test) if test_time is None else int(test_time)
    t_valid = _cutoff(ts_sorted, n_test + n_valid) if valid_time is None else int(valid_time)
    if test_time is not None and valid_time is None:
        t_valid = min(t_valid, t_test)
    if t_valid > t_test:
        raise ConfigError(f"temporal split: valid_time {t_valid} is after test_time {t_test}")
    lab = np.where(ts < t_valid, TRAIN, np.where(ts < t_test, VALID, TEST)).astype(np.int8)
    is_train = lab == TRAIN
    known_item = np.bincount(data.item[is_train], minlength=data.n_items) > 0
    known_user = np.bincount(data.user[is_train], minlength=data.n_users) > 0
    held = ~is_train
    cold_item = held & ~known_item[data.item]
    cold_user = held & ~known_user[data.user]
    lines = [counts_line(data, "temporal input"),
             f"temporal: cut-offs valid_time={t_valid}, test_time={t_test}"]
    verb = "dropped" if unseen == "drop" else "kept"
    for label, k in (("valid", VALID), ("test", TEST)):
        in_part = lab == k
        lines.append(f"temporal: {int((in_part & cold_item).sum()):,} {label} interactions with items unseen "
                     f"in train {verb}; {int((in_part & cold_user & ~cold_item).sum()):,} more from users "
                     f"with no train interactions {verb}")
    if unseen == "drop":
        lab[cold_item | cold_user] = DROP
    params = {"valid_time": t_valid, "test_time": t_test, "valid_frac": valid_frac, "test_frac": test_frac,
              "unseen": unseen}
    return from_labels(data, lab, "temporal", params, "train+valid", lines)


def recbole_counts(tot: int, ratios: tuple[float, ...]) -> list[int]:
    """Part sizes for ``tot`` rows, exactly as RecBole ``Dataset._calcu_split_ids`` (plus its
    ratio normalisation in ``split_by_ratio``): every part but the first is rounded down, then
    empty non-zero parts get one row each while the first part keeps more than one."""
    total = sum(ratios)
    ratios = tuple(r / total for r in ratios)
    cnt = [int(r * tot) for r in ratios]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def _seeded_order(data: Interactions, seed: int) -> np.ndarray:
    """Rows grouped by user, each user's rows in a seeded random order."""
    key = np.random.default_rng(seed).permutation(len(data))
    return np.lexsort((key, data.user))


def ratio(data: Interactions, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
          order: Literal["random", "time"] = "random") -> Split:
    """Per-user train/valid/test by ratio with RecBole's count rule (``recbole_counts``).

    order="random": each user's rows are shuffled (numpy Generator seeded by ``seed``) and cut
    in that order; order="time": cut in time order (ties in file order). test_history="train".
    """
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or min(ratios) < 0 or ratios[0] <= 0:
        raise ConfigError(f"ratios must be 3 non-negative numbers with train > 0, got {ratios}")
    if order not in ("random", "time"):
        raise ConfigError(f"order must be 'random' or 'time', got {order!r}")
    rows = _seeded_order(data, seed) if order == "random" else data.order
    counts = data.user_counts()
    table = np.zeros((int(counts.max(initial=0)) + 1, 2), np.int64)  # per total: (n_train, n_valid)
    for tot in np.unique(counts[counts > 0]):
        table[tot] = recbole_counts(int(tot), ratios)[:2]
    n_train, n_valid = table[counts, 0], table[counts, 1]
    user_sorted = data.user[rows]
    pos = _position_in_user(user_sorted, counts)
    lab = np.where(pos < n_train[user_sorted], TRAIN,
                   np.where(pos < (n_train + n_valid)[user_sorted], VALID, TEST)).astype(np.int8)
    lines = [counts_line(data, "ratio input"), f"ratio: per-user {ratios} in {order} order (seed {seed}), "
             "RecBole count rule"]
    params = {"ratios": list(ratios), "seed": seed, "order": order}
    return from_labels(data, _unsort(rows, lab), "ratio", params, "train", lines)


def kfold(data: Interactions, k: int = 5, seed: int = 0) -> list[Split]:
    """``k`` per-user folds: each user's rows, after a seeded shuffle, are dealt round-robin to
    the folds starting at a seeded random fold. Split f: test = fold f, valid = empty, train = rest.
    """
    if k < 2:
        raise ConfigError(f"kfold needs k >= 2, got {k}")
    rng = np.random.default_rng(seed)
    rows = np.lexsort((rng.permutation(len(data)), data.user))
    counts = data.user_counts()
    offset = rng.integers(0, k, size=len(counts))
    user_sorted = data.user[rows]
    fold = _unsort(rows, (_position_in_user(user_sorted, counts) + offset[user_sorted]) % k)
    splits = []
    for f in range(k):
        lab = np.where(fold == f, TEST, TRAIN).astype(np.int8)
        lines = [counts_line(data, "kfold input"), f"kfold: fold {f + 1} of {k} (seed {seed}), no valid part"]
        splits.append(from_labels(data, lab, f"kfold-{f + 1}of{k}", {"k": k, "fold": f, "seed": seed},
                                  "train", lines))
    return splits


# ---- split directories ------------------------------------------------------

