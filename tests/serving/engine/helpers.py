"""Helpers for the engine tests: planted data with real-looking genres/runtimes and toy models.

``planted()`` puts users in 4 clusters, each drawing from its own block of items (item i is in
block i % 4). ``rich_data`` keeps those interactions but gives items MovieLens-style genres
(block genre "g{b}" plus one of Horror / Animation / Comedy / Drama / Thriller by i % 5),
runtimes and a few items without a runtime, so context rules have something to act on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch, UserState
from cinesync.data.synthetic import planted
from cinesync.models.base import FitContext, Recommender

NOON = datetime(2024, 1, 3, 12, 0)  # a Wednesday
EXTRA_GENRES = ("Horror", "Animation", "Comedy", "Drama", "Thriller")


def runtime_of(i: int) -> float | None:
    """Runtimes 60..170 min; every 10th item has none (unknown)."""
    return None if i % 10 == 9 else float(60 + (i * 37) % 120)


def make_rich(n_users: int = 200, n_items: int = 100, seed: int = 0) -> Interactions:
    base = planted(n_users=n_users, n_items=n_items, seed=seed)
    cat = base.catalog.frame
    num = [int(x[1:]) for x in cat["item_id"]]  # catalogue rows follow the item index, not the id number
    cat["genres"] = [(f"g{i % 4}", EXTRA_GENRES[i % 5]) for i in num]
    cat["runtime"] = [runtime_of(i) for i in num]
    return Interactions.from_frame(base.to_frame(), catalog=cat, name="rich")


def cluster_items(c: int, n: int, start: int = 0) -> list[str]:
    """``n`` item ids of planted block ``c`` (the block's most popular first)."""
    return [f"i{4 * j + c}" for j in range(start, start + n)]


def cluster_user(c: int, n: int = 8, rating: float = 5.0) -> UserState:
    """A user who rated ``n`` items of block ``c``."""
    return UserState.from_items(cluster_items(c, n), [rating] * n)


def block(item_id: str) -> int:
    return int(item_id[1:]) % 4


class LinearModel(Recommender):
    """score = binary history @ W with a fixed W and no item-item state: exercises leave-one-out."""

    name = "test-linear"

    def __init__(self, w: np.ndarray) -> None:
        super().__init__()
        self.w = np.asarray(w, np.float32)
        self.n_items_ = len(w)

    def _fit(self, train: Interactions, ctx: FitContext) -> None:  # pragma: no cover - fixed weights
        pass

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        return batch.to_csr(len(self.w)) @ self.w

    def state(self) -> dict[str, Any]:
        return {"w_hidden": self.w[:1]}  # nothing the engine recognises

    def _load_state(self, arrays: dict[str, Any]) -> None:  # pragma: no cover
        pass


class FactorModel(LinearModel):
    """Exposes ``item_factors`` in state(): exercises the item-vector explanation source."""

    name = "test-factors"

    def __init__(self, factors: np.ndarray) -> None:
        f = np.asarray(factors, np.float32)
        super().__init__(f @ f.T)
        self.factors = f

    def state(self) -> dict[str, Any]:
        return {"item_factors": self.factors}
