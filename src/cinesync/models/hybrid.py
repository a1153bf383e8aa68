"""Hybrid: a collaborative model blended with the content model by the user's history length.

score = w(n) * z(collaborative) + (1 - w(n)) * z(content), with z the per-row z-score over all
items (so the two parents are on one scale) and n the number of items in the history. The
curve w is

* "saturating": w(n) = n / (n + k)  (half collaborative at n = k), or
* "logistic": w(n) = 1 / (1 + exp(-slope * (n - midpoint))),

and w(0) = 0 always: an empty history is pure content (which itself falls back to popularity).
w rises with n, so a long history is mostly collaborative. ``collaborative`` is any registered
model name (default EASE). The default (saturating, k = 1) was chosen on the validation users of
``cinesync coldstart``; the best logistic curve there was within 0.0002 NDCG@10 (docs/content.md).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

import numpy as np
import pydantic

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.content import ContentRecommender
from cinesync.models.registry import create, register

COLLAB, CONTENT = "collab.", "content."


class HybridConfig(ModelConfig):
    """collaborative / collaborative_config: the collaborative parent (registry name + config).
    content_config: the content parent's config (``ContentConfig``). curve, k, midpoint, slope: w(n)."""

    collaborative: str = pydantic.Field("ease", pattern=r"^[a-z0-9_]+$",
                                        json_schema_extra={"not": {"enum": ["hybrid", "content"]}})
    collaborative_config: dict[str, Any] = pydantic.Field(default_factory=dict)
    content_config: dict[str, Any] = pydantic.Field(default_factory=dict)
    curve: Literal["saturating", "logistic"] = "saturating"
    k: float = pydantic.Field(1.0, gt=0.0)
    midpoint: float = 5.0
    slope: float = pydantic.Field(1.0, gt=0.0)

    @pydantic.field_validator("collaborative")
    @classmethod
    def _not_self(cls, v: str) -> str:
        if v in ("hybrid", "content"):
            raise ValueError(f"collaborative must be a collaborative model, not {v!r}")
        return v


def blend_weight(n: np.ndarray, curve: str = "saturating", k: float = 1.0, midpoint: float = 5.0,
                 slope: float = 1.0) -> np.ndarray:
    """(len(n),) float64 collaborative weight w(n) in [0, 1] for history lengths ``n``; w(0) = 0."""
    n = np.asarray(n, np.float64)
    if curve == "saturating":
        w = n / (n + k)
    elif curve == "logistic":
        w = 1.0 / (1.0 + np.exp(-slope * (n - midpoint)))
    else:
        raise ConfigError(f"curve must be 'saturating' or 'logistic', got {curve!r}")
    return np.where(n <= 0, 0.0, w)


def zscore_rows(s: np.ndarray) -> np.ndarray:
    """(n, m) scores standardised per row (a constant row becomes 0)."""
    s = np.asarray(s, np.float64)
    mu = s.mean(axis=1, keepdims=True)
    sd = s.std(axis=1, keepdims=True)
    return np.divide(s - mu, sd, out=np.zeros_like(s), where=sd > 1e-12)


@register
class Hybrid(Recommender):
    """History-length-weighted blend of a collaborative model and the content model."""

    name = "hybrid"
    config_class = HybridConfig
    family: ClassVar[str] = "content"
    tune_grid: ClassVar[dict[str, list]] = {"k": [0.5, 1.0, 2.0, 5.0]}
    uses_ratings = True

    @classmethod
    def from_parents(cls, collaborative: Recommender, content: ContentRecommender, **config: Any) -> Self:
        """A hybrid over two already fitted parents (no refit; used to compare curves cheaply)."""
        if collaborative.n_items_ is None or content.n_items_ is None:
            raise ConfigError("from_parents: both parents must be fitted")
        if collaborative.n_items_ != content.n_items_:
            raise ConfigError(f"from_parents: parents have {collaborative.n_items_} vs {content.n_items_} items")
        model = cls({"collaborative": collaborative.name, "collaborative_config": collaborative.config.model_dump(),
                     "content_config": content.config.model_dump(), **config})
        model.collab_, model.content_ = collaborative, content
        model.n_items_ = collaborative.n_items_
        return model

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        cfg = self.config
        self.collab_ = create(cfg.collaborative, cfg.collaborative_config).fit(train, ctx)
        self.content_ = ContentRecommender(cfg.content_config).fit(train, ctx)

    def weights(self, lengths: np.ndarray) -> np.ndarray:
        """(n,) collaborative weight per history length (see ``blend_weight``)."""
        cfg = self.config
        return blend_weight(lengths, cfg.curve, cfg.k, cfg.midpoint, cfg.slope)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        w = self.weights(batch.lengths)[:, None]
        out = w * zscore_rows(self.collab_.score(batch))
        out += (1.0 - w) * zscore_rows(self.content_.score(batch))
        return out.astype(np.float32)

    def state(self) -> dict[str, Any]:
        st: dict[str, Any] = {"n_items": np.asarray(self.n_items_, np.int64)}
        st.update({COLLAB + k: v for k, v in self.collab_.state().items()})
        st.update({CONTENT + k: v for k, v in self.content_.state().items()})
        return st

    def _load_state(self, arrays: dict[str, Any]) -> None:
        cfg, n_items = self.config, int(arrays["n_items"])
        pick = (lambda p: {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)})
        self.collab_ = create(cfg.collaborative, cfg.collaborative_config).load_state(pick(COLLAB), n_items)
        self.content_ = ContentRecommender(cfg.content_config).load_state(pick(CONTENT), n_items)
