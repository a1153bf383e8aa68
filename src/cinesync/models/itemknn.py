"""ItemKNN: cosine item-item similarity with shrinkage, top-k neighbours kept sparse.

sim(i, j) = <f_i, f_j> / (|f_i| |f_j| + shrink), where f_i is item i's column of the
user-item matrix (optionally TF-IDF / BM25 weighted over users). Each target item j keeps
its ``k`` most similar items; score(h) = h @ S with h the binary history, so any history
(new user, new rating) is scored without refitting.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

import numpy as np
import pydantic
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.registry import register
from cinesync.models.sparse_utils import fill_empty_rows, popularity, row_chunks, topk_rows

log = logging.getLogger(__name__)

BM25_K1 = 1.2
BM25_B = 0.75
#: largest (n_users, n_items) float32 matrix densified to speed up the similarity products
DENSE_BUDGET_BYTES = 256 * 2**20


class ItemKNNConfig(ModelConfig):
    """k: neighbours kept per target item. shrink: added to the cosine denominator (damps
    similarities resting on few co-occurrences). feature_weighting: weight users (the
    features of an item) before the cosine: "tfidf" down-weights very active users, "bm25"
    also normalises by item popularity."""

    k: int = pydantic.Field(100, ge=1)
    shrink: float = pydantic.Field(10.0, ge=0.0)
    feature_weighting: Literal["none", "tfidf", "bm25"] = "none"


def weight_features(item_user: sp.csr_matrix, scheme: str) -> sp.csr_matrix:
    """Re-weight the (n_items, n_users) binary matrix: "none", "tfidf" or "bm25" (users = terms)."""
    f = item_user.astype(np.float32).tocsr()
    if scheme == "none":
        return f
    n_items = f.shape[0]
    df = np.bincount(f.indices, minlength=f.shape[1]).astype(np.float64)
    idf = np.log(n_items / (1.0 + df)).clip(min=0.0) + 1e-3
    f.data = (f.data * idf[f.indices]).astype(np.float32)
    if scheme == "bm25":
        length = np.diff(f.indptr).astype(np.float64)
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / max(length.mean(), 1e-12))
        tf = (BM25_K1 + 1.0) / (1.0 + norm)  # binary term frequency 1, saturated by item length
        f.data = (f.data * np.repeat(tf, np.diff(f.indptr))).astype(np.float32)
    return f


def cosine_topk(features: sp.csr_matrix, k: int, shrink: float, block: int = 1024) -> sp.csr_matrix:
    """(n, n) CSR: row j holds the top-``k`` shrunk cosine similarities of row-vector j to
    the others (self excluded). ``features`` is (n, d); computed in blocks of rows."""
    n = features.shape[0]
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1), np.float64).ravel())
    ft: Any = features.T.tocsr()
    if ft.shape[0] * ft.shape[1] * 4 <= DENSE_BUDGET_BYTES:
        ft = ft.toarray()  # sparse @ dense is ~3x faster than sparse @ sparse here
    parts = []
    for sl in row_chunks(n, block):
        dots = features[sl] @ ft
        dots = dots.toarray() if sp.issparse(dots) else dots
        sim = dots / (norms[sl, None] * norms[None, :] + shrink + 1e-12)
        sim[np.arange(sim.shape[0]), np.arange(sl.start, sl.stop)] = 0.0
        parts.append(topk_rows(sim, k))
    return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, 0), dtype=np.float32)


@register
class ItemKNN(Recommender):
    """Item-based k-nearest-neighbours on binary interactions. Empty history -> popularity."""

    name = "itemknn"
    config_class = ItemKNNConfig
    tune_grid: ClassVar[dict[str, list]] = {"k": [50, 100, 200, 500], "shrink": [0.0, 50.0]}

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        x = train.csr()
        feats = weight_features(x.T.tocsr(), self.config.feature_weighting)
        # rows of S^T are targets j with their top-k neighbours i; score = h @ S
        self.similarity_ = cosine_topk(feats, self.config.k, self.config.shrink).T.tocsr()
        self.popularity_ = popularity(x)
        log.debug("itemknn: %d items, %d similarities kept", x.shape[1], self.similarity_.nnz)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        h = batch.to_csr(self.similarity_.shape[0])
        out = (h @ self.similarity_).toarray().astype(np.float32, copy=False)
        return fill_empty_rows(out, batch, self.popularity_)

    def state(self) -> dict[str, Any]:
        return {"similarity": self.similarity_, "popularity": self.popularity_}

    def _load_state(self, arrays: dict[str, Any]) -> None:
        self.similarity_ = sp.csr_matrix(arrays["similarity"], dtype=np.float32)
        self.popularity_ = np.asarray(arrays["popularity"], np.float32)
