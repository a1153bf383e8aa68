"""Content-based recommender: user profile = weighted mean of the history items' text embeddings.

score(u, j) = cosine(profile_u, e_j) with e_j the item's unit text embedding
(``cinesync.content.embeddings``) and profile_u = sum_i w_i e_i over the history. The weight of
a history item combines

* ``rating_weight``: "none" (w = 1), "centered" (w = r - the user's mean rating; disliked items
  push the profile away) or "liked" (w = 1 for r >= the user's mean, else 0). A row whose weights
  are all 0 (one item, or all ratings equal) falls back to w = 1. Without ratings, w = 1.
* ``recency_half_life``: optional, in history positions: the k-th most recent item counts
  0.5 ** (k / half_life).

``popularity_weight`` adds a text-only popularity prior: a ridge regression (``prior_l2``) from
the embedding to log(1 + training interactions), fitted on the items that have interactions and
standardised over all items; score += popularity_weight * prior. It predicts how popular an item
will be from its text alone (TMDB's plots cover the better-known films), so it also applies to
items nobody has seen.

Because only the text is needed, an item nobody has interacted with yet is scored like any
other (item cold start). Empty histories get popularity. The fitted (n_items, d) embedding
matrix is saved in ``state()["item_embeddings"]``, so a loaded model needs no encoder, and the
serving engine's "similar titles" uses its cosine (``serving.contrib.VectorSource``).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

import numpy as np
import pydantic
import scipy.sparse as sp

from cinesync.content.embeddings import FIELDS, encode_texts, item_texts
from cinesync.data.arrays import unit_rows
from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError, NotFittedError
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.registry import register
from cinesync.models.sparse_utils import fill_empty_rows, popularity
from cinesync.ranking.similar import similar_items

log = logging.getLogger(__name__)

Field = Literal["title", "genres", "tags", "overview"]


class ContentConfig(ModelConfig):
    """model_path: local sentence-transformers folder (None = packaged all-MiniLM-L6-v2). cache_dir:
    embedding cache (None = ~/.cinesync/cache/embeddings). fields: catalogue text used. rating_weight /
    recency_half_life: history weighting; popularity_weight / prior_l2: the text popularity prior
    (module docstring). batch_size: encoding batch size. Defaults ("liked", prior weight 0.1) were
    chosen on the validation parts of ``cinesync coldstart`` (docs/content.md)."""

    model_path: str | None = None
    cache_dir: str | None = None
    fields: tuple[Field, ...] = pydantic.Field(FIELDS, min_length=1)
    rating_weight: Literal["none", "centered", "liked"] = "liked"
    recency_half_life: float | None = pydantic.Field(None, gt=0.0)
    popularity_weight: float = pydantic.Field(0.1, ge=0.0)
    prior_l2: float = pydantic.Field(1.0, gt=0.0)
    batch_size: int = pydantic.Field(64, ge=1)


def popularity_prior(embeddings: np.ndarray, counts: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """(n_items,) float32 standardised ridge prediction of log(1 + counts) from (n_items, d) embeddings.

    Fitted on items with counts > 0 only (new items are not "unpopular", just unseen); zeros when
    fewer than two items have interactions or the prediction is constant.
    """
    seen = np.asarray(counts) > 0
    if seen.sum() < 2:
        return np.zeros(len(embeddings), np.float32)
    x = np.asarray(embeddings, np.float64)
    mu = x[seen].mean(axis=0)
    y = np.log1p(np.asarray(counts, np.float64)[seen])
    xc = x[seen] - mu
    beta = np.linalg.solve(xc.T @ xc + l2 * np.eye(x.shape[1]), xc.T @ (y - y.mean()))
    pred = (x - mu) @ beta
    sd = pred.std()
    return ((pred - pred.mean()) / sd if sd > 1e-12 else np.zeros_like(pred)).astype(np.float32)


def history_weights(batch: HistoryBatch, rating_weight: str, half_life: float | None) -> np.ndarray:
    """(nnz,) float64 weight of every history entry (see the module docstring); vectorised over rows."""
    n, lens = len(batch), batch.lengths
    rows = np.repeat(np.arange(n), lens)
    w = np.ones(len(batch.items), np.float64)
    if batch.ratings is not None and rating_weight != "none" and len(w):
        r = batch.ratings.astype(np.float64)
        mean = np.bincount(rows, weights=r, minlength=n) / np.maximum(lens, 1)
        d = r - mean[rows]
        w = d if rating_weight == "centered" else (d >= -1e-9).astype(np.float64)
        dead = np.bincount(rows, weights=np.abs(w), minlength=n) < 1e-9
        w[dead[rows]] = 1.0
    if half_life is not None and len(w):
        age = np.repeat(batch.indptr[1:], lens) - 1 - np.arange(len(w))  # 0 = the most recent item
        w = w * 0.5 ** (age / half_life)
    return w


@register
class ContentRecommender(Recommender):
    """Cosine between a user's weighted mean history embedding and every item's text embedding."""

    name = "content"
    config_class = ContentConfig
    family: ClassVar[str] = "content"
    tune_grid: ClassVar[dict[str, list]] = {"rating_weight": ["none", "centered"],
                                            "popularity_weight": [0.0, 0.1, 0.2, 0.5]}
    uses_ratings = True

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        cfg = self.config
        texts = item_texts(train.catalog, cfg.fields)
        self.item_embeddings_ = encode_texts(texts, cfg.model_path, cfg.cache_dir, cfg.batch_size, ctx.progress)
        self.popularity_ = popularity(train.csr())
        self.prior_ = popularity_prior(self.item_embeddings_, train.item_counts(), cfg.prior_l2)
        log.debug("content: %d items embedded (%d-d)", *self.item_embeddings_.shape)

    def profiles(self, batch: HistoryBatch) -> np.ndarray:
        """(len(batch), d) float32 unit user profiles (zero rows for empty histories)."""
        w = history_weights(batch, self.config.rating_weight, self.config.recency_half_life)
        m = sp.csr_matrix((w, batch.items, batch.indptr), shape=(len(batch), len(self.item_embeddings_)))
        return unit_rows(np.asarray(m @ self.item_embeddings_))

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        out = self.profiles(batch) @ self.item_embeddings_.T
        if self.config.popularity_weight > 0:
            out += self.config.popularity_weight * self.prior_[None, :]
        return fill_empty_rows(out, batch, self.popularity_)

    def similar(self, item: int, k: int = 10, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """"More like this": (indices (k,), cosines (k,)) of the items nearest to ``item`` (itself excluded)."""
        if self.n_items_ is None:
            raise NotFittedError("content: fit() or load() the model before asking for similar items")
        return similar_items(self.item_embeddings_, item, k, allowed)

    def state(self) -> dict[str, Any]:
        return {"item_embeddings": self.item_embeddings_, "popularity": self.popularity_, "prior": self.prior_}

    def with_config(self, **changes: Any) -> ContentRecommender:
        """A fitted copy with score-time options changed (weighting, prior weight): no re-encoding."""
        if self.n_items_ is None:
            raise NotFittedError("content: fit() the model before with_config()")
        fixed = {"fields", "model_path", "prior_l2"} & set(changes)
        if fixed:
            raise ConfigError(f"with_config cannot change {sorted(fixed)}: they need a new fit")
        model = ContentRecommender({**self.config.model_dump(), **changes})
        return model.load_state(self.state(), self.n_items_)

    def _load_state(self, arrays: dict[str, Any]) -> None:
        self.item_embeddings_ = np.ascontiguousarray(arrays["item_embeddings"], dtype=np.float32)
        self.popularity_ = np.asarray(arrays["popularity"], np.float32)
        self.prior_ = np.asarray(arrays["prior"], np.float32)
