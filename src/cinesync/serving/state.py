"""``UserState``: one user's current history as the engine sees it (external item ids).

The store builds it from events (latest rating per item wins; dislike / not-interested go to
``blocked``); tests and the CLI build it directly. It IS the current history, so a rating
added a moment ago changes the very next recommendation — no retraining involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


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
