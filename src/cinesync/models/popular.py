"""MostPopular (optionally time-decayed) and Random: the floors every model must clear."""

from __future__ import annotations

from typing import Any

import numpy as np

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.registry import register


class PopularConfig(ModelConfig):
    """half_life_days: if set, each interaction counts 0.5 ** (age / half_life) (needs timestamps)."""

    half_life_days: float | None = None


@register
class MostPopular(Recommender):
    """Scores every item by its (optionally time-decayed) interaction count."""

    name = "pop"
    config_class = PopularConfig

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        hl = self.config.half_life_days
        if hl is None or train.timestamp is None:
            w = np.ones(len(train), np.float64)
        else:
            age_days = (train.timestamp.max() - train.timestamp) / 86400.0
            w = 0.5 ** (age_days / hl)
        counts = np.bincount(train.item, weights=w, minlength=train.n_items)
        self.popularity_ = (counts / max(counts.max(), 1e-12)).astype(np.float32)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(batch), len(self.popularity_))).copy()

    def state(self) -> dict[str, Any]:
        return {"popularity": self.popularity_}

    def _load_state(self, arrays: dict[str, Any]) -> None:
        self.popularity_ = np.asarray(arrays["popularity"], np.float32)


class RandomConfig(ModelConfig):
    seed: int = 0


@register
class RandomRecommender(Recommender):
    """Uniform random scores, reproducible per (seed, user row): a sanity floor."""

    name = "random"
    config_class = RandomConfig

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        self.n_fit_items_ = train.n_items

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        rng = np.random.default_rng(self.config.seed)
        return rng.random((len(batch), self.n_fit_items_), dtype=np.float32)

    def state(self) -> dict[str, Any]:
        return {"n_items": np.asarray(self.n_fit_items_)}

    def _load_state(self, arrays: dict[str, Any]) -> None:
        self.n_fit_items_ = int(arrays["n_items"])
