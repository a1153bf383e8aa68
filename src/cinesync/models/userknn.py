"""UserKNN: score items by what the most similar training users consumed.

For a query history h (binary), sim(h, u) = <h, x_u> / (|h| |x_u| + shrink) against every
training user u; the ``k`` most similar users are kept and score = sim_topk @ X_train.
Because the query is the history itself, new users and fresh ratings need no refit.
A known user (``batch.users[i] >= 0``) is never its own neighbour: its training row holds
only items it has already seen, so it would use up a neighbour slot for nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pydantic
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.registry import register
from cinesync.models.sparse_utils import fill_empty_rows, popularity, row_chunks, topk_rows

#: query rows scored at once (bounds the dense (rows, n_train_users) similarity block)
BLOCK_ROWS = 512


class UserKNNConfig(ModelConfig):
    """k: neighbours per query. shrink: added to the cosine denominator."""

    k: int = pydantic.Field(50, ge=1)
    shrink: float = pydantic.Field(10.0, ge=0.0)


@register
class UserKNN(Recommender):
    """User-based k-nearest-neighbours on binary interactions. Empty history -> popularity."""

    name = "userknn"
    config_class = UserKNNConfig
    tune_grid: ClassVar[dict[str, list]] = {"k": [20, 50, 100, 200], "shrink": [0.0, 50.0]}

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        self.train_ = train.csr()  # (n_users, n_items) binary float32
        self.popularity_ = popularity(self.train_)
        self._prepare()

    def _prepare(self) -> None:
        self._train_t = self.train_.T.tocsr()
        self._norms = np.sqrt(np.diff(self.train_.indptr).astype(np.float64))

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        n_train = self.train_.shape[0]
        h = batch.to_csr(self.train_.shape[1])
        qnorm = np.sqrt(np.diff(h.indptr).astype(np.float64))
        out = np.empty((len(batch), self.train_.shape[1]), np.float32)
        for sl in row_chunks(len(batch), BLOCK_ROWS):
            dots = (h[sl] @ self._train_t).toarray()
            sim = dots / (qnorm[sl, None] * self._norms[None, :] + self.config.shrink + 1e-12)
            own = batch.users[sl]
            rows = np.flatnonzero((own >= 0) & (own < n_train))
            sim[rows, own[rows]] = 0.0  # a known user is not its own neighbour
            out[sl] = (topk_rows(sim, self.config.k) @ self.train_).toarray()
        return fill_empty_rows(out, batch, self.popularity_)

    def state(self) -> dict[str, Any]:
        return {"train": self.train_, "popularity": self.popularity_}

    def _load_state(self, arrays: dict[str, Any]) -> None:
        self.train_ = sp.csr_matrix(arrays["train"], dtype=np.float32)
        self.popularity_ = np.asarray(arrays["popularity"], np.float32)
        self._prepare()
