"""HistoryBatch: the query type every model scores — a batch of user histories; UserState: one live
user's current history in external ids (what the service keeps and the engine resolves).

Each row is one user's items in time order (ties keep file order), with optional
ratings and timestamps. Stored CSR-style (``indptr`` + flat arrays) so a batch of
thousands of users and a single live user use the same code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


def _ro(a: np.ndarray | None) -> np.ndarray | None:
    if a is not None:
        a = np.ascontiguousarray(a)
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class HistoryBatch:
    """A batch of ``n`` histories.

    indptr: (n+1,) int64 row pointers. items: (nnz,) int32 item indices.
    ratings / timestamps: (nnz,) float32 / int64, or None when the data has none.
    users: (n,) int32 known user index per row, -1 for a user unseen in training.
    """

    indptr: np.ndarray
    items: np.ndarray
    users: np.ndarray
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.indptr) - 1
        if n < 0 or self.indptr[0] != 0 or self.indptr[-1] != len(self.items):
            raise ValueError("HistoryBatch: indptr must start at 0 and end at len(items)")
        if len(self.users) != n:
            raise ValueError(f"HistoryBatch: {len(self.users)} users for {n} rows")
        for name in ("ratings", "timestamps"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != len(self.items):
                raise ValueError(f"HistoryBatch: {name} has {len(arr)} values for {len(self.items)} items")
        for name in ("indptr", "items", "users", "ratings", "timestamps"):
            object.__setattr__(self, name, _ro(getattr(self, name)))

    # ---- construction -------------------------------------------------
    @classmethod
    def from_lists(
        cls,
        items: Sequence[Sequence[int]],
        users: Sequence[int] | None = None,
        ratings: Sequence[Sequence[float]] | None = None,
        timestamps: Sequence[Sequence[int]] | None = None,
    ) -> HistoryBatch:
        """Build from per-row lists (already in time order)."""
        lens = np.fromiter((len(r) for r in items), dtype=np.int64, count=len(items))
        indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        flat = np.fromiter((i for r in items for i in r), dtype=np.int32, count=int(indptr[-1]))
        u = np.full(len(items), -1, np.int32) if users is None else np.asarray(users, np.int32)
        rat = None if ratings is None else np.fromiter((x for r in ratings for x in r), np.float32)
        ts = None if timestamps is None else np.fromiter((x for r in timestamps for x in r), np.int64)
        return cls(indptr, flat, u, rat, ts)

    @classmethod
    def empty(cls, n: int = 1) -> HistoryBatch:
        """``n`` empty histories of unknown users."""
        return cls(np.zeros(n + 1, np.int64), np.zeros(0, np.int32), np.full(n, -1, np.int32))

    # ---- views --------------------------------------------------------
    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        """(n,) history length per row."""
        return np.diff(self.indptr)

    def row(self, i: int) -> np.ndarray:
        """Item indices of row ``i`` in time order."""
        return self.items[self.indptr[i] : self.indptr[i + 1]]

    def to_csr(self, n_items: int, value: str = "binary") -> sp.csr_matrix:
        """(n, n_items) matrix; value="binary" (1 per item) or "rating" (last rating wins)."""
        n = len(self)
        if value == "rating" and self.ratings is not None:
            rows = np.repeat(np.arange(n), self.lengths)
            # keep the last occurrence of each (row, item)
            key = rows.astype(np.int64) * n_items + self.items
            _, last = np.unique(key[::-1], return_index=True)
            keep = len(key) - 1 - last
            m = sp.csr_matrix(
                (self.ratings[keep], (rows[keep], self.items[keep])), shape=(n, n_items), dtype=np.float32
            )
        else:
            data = np.ones(len(self.items), np.float32)
            m = sp.csr_matrix((data, self.items.copy(), self.indptr.copy()), shape=(n, n_items))
            m.sum_duplicates()
            m.data[:] = 1.0
        m.sort_indices()
        return m

    def padded(self, max_len: int, pad: int) -> np.ndarray:
        """(n, max_len) int64 of each row's last ``max_len`` items, right-aligned, left-padded with ``pad``."""
        n = len(self)
        out = np.full((n, max_len), pad, dtype=np.int64)
        lens = np.minimum(self.lengths, max_len)
        if n == 0 or lens.sum() == 0:
            return out
        rows = np.repeat(np.arange(n), lens)
        # position within the kept tail
        starts = self.indptr[1:] - lens
        offs = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        src = np.repeat(starts, lens) + offs
        cols = max_len - np.repeat(lens, lens) + offs
        out[rows, cols] = self.items[src]
        return out

    def select(self, rows: np.ndarray | Sequence[int]) -> HistoryBatch:
        """A batch of the given rows (in the given order)."""
        rows = np.asarray(rows, dtype=np.int64)
        lens = self.lengths[rows]
        indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        src = np.repeat(self.indptr[rows], lens) + (np.arange(indptr[-1]) - np.repeat(indptr[:-1], lens))
        take = (lambda a: None if a is None else a[src])
        return HistoryBatch(indptr, self.items[src], self.users[rows], take(self.ratings), take(self.timestamps))

    def append(self, other: HistoryBatch) -> HistoryBatch:
        """Row-wise concatenation: row i = self.row(i) followed by other.row(i)."""
        if len(other) != len(self):
            raise ValueError(f"append: {len(other)} rows vs {len(self)}")
        lens = self.lengths + other.lengths
        indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        a_pos = np.repeat(indptr[:-1], self.lengths) + (
            np.arange(len(self.items)) - np.repeat(self.indptr[:-1], self.lengths)
        )
        b_pos = np.repeat(indptr[:-1] + self.lengths, other.lengths) + (
            np.arange(len(other.items)) - np.repeat(other.indptr[:-1], other.lengths)
        )

        def merge(x: np.ndarray | None, y: np.ndarray | None, dtype: type) -> np.ndarray | None:
            if x is None or y is None:
                return None
            out = np.empty(indptr[-1], dtype)
            out[a_pos] = x
            out[b_pos] = y
            return out

        items = merge(self.items, other.items, np.int32)
        return HistoryBatch(
            indptr, items, self.users,
            merge(self.ratings, other.ratings, np.float32),
            merge(self.timestamps, other.timestamps, np.int64),
        )


# The store builds a UserState from events (latest rating per item wins; dislike / not-interested go
# to ``blocked``); tests and the CLI build it directly. It IS the current history, so a rating added
# a moment ago changes the very next recommendation, with no retraining.
@dataclass(frozen=True)
class UserState:
    """A user's positives in time order (oldest first) plus what must never be shown.

    history: item ids; ratings: aligned with history (None = watched without a rating);
    timestamps: aligned epoch seconds; blocked: not-interested / disliked item ids;
    watchlist: item ids the user saved; providers / region: where the user can watch.
    """

    history: tuple[str, ...] = ()
    ratings: tuple[float | None, ...] = ()
    timestamps: tuple[float, ...] = ()
    blocked: frozenset[str] = field(default_factory=frozenset)
    watchlist: tuple[str, ...] = ()
    providers: frozenset[str] = field(default_factory=frozenset)
    region: str | None = None

    def __post_init__(self) -> None:
        n = len(self.history)
        if len(self.ratings) != n:
            raise ValueError(f"UserState: {len(self.ratings)} ratings for {n} history items")
        if len(self.timestamps) != n:
            raise ValueError(f"UserState: {len(self.timestamps)} timestamps for {n} history items")

    @classmethod
    def from_items(cls, items: Sequence[object], ratings: Sequence[float | None] | None = None,
                   **kwargs: object) -> UserState:
        """Convenience: a history of ``items`` (in order) with optional ratings and timestamps 0, 1, 2, ..."""
        hist = tuple(str(i) for i in items)
        rat = tuple(ratings) if ratings is not None else (None,) * len(hist)
        return cls(history=hist, ratings=rat, timestamps=tuple(float(t) for t in range(len(hist))),
                   **kwargs)  # type: ignore[arg-type]

    def with_rating(self, item_id: str, rating: float | None, ts: float | None = None) -> UserState:
        """A new state with one more rated/watched item appended (latest event last)."""
        t = ts if ts is not None else (self.timestamps[-1] + 1.0 if self.timestamps else 0.0)
        return UserState(self.history + (str(item_id),), self.ratings + (rating,), self.timestamps + (t,),
                         self.blocked, self.watchlist, self.providers, self.region)

    def with_blocked(self, item_id: str) -> UserState:
        """A new state with ``item_id`` blocked (and removed from the history)."""
        keep = [i for i, x in enumerate(self.history) if x != str(item_id)]
        return UserState(tuple(self.history[i] for i in keep), tuple(self.ratings[i] for i in keep),
                         tuple(self.timestamps[i] for i in keep), self.blocked | {str(item_id)},
                         self.watchlist, self.providers, self.region)
