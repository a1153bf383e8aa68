"""Shared scoring and persistence of the item-to-item models whose score is history x W."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from cinesync.data.history import HistoryBatch
from cinesync.models.base import Recommender
from cinesync.models.sparse_utils import fill_empty_rows


class ItemWeightsRecommender(Recommender):
    """score(h) = h @ W for a sparse (n_items, n_items) ``weights_``; an empty history gets
    ``popularity_``. Subclasses fit both arrays; ``_history`` says how a history becomes a row
    (default: one 1 per item)."""

    weights_: sp.csr_matrix
    popularity_: np.ndarray

    def _history(self, batch: HistoryBatch) -> sp.csr_matrix:
        return batch.to_csr(self.weights_.shape[0])

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        out = (self._history(batch) @ self.weights_).toarray().astype(np.float32, copy=False)
        return fill_empty_rows(out, batch, self.popularity_)

    def state(self) -> dict[str, Any]:
        return {"weights": self.weights_, "popularity": self.popularity_}

    def _load_state(self, arrays: dict[str, Any]) -> None:
        self.weights_ = sp.csr_matrix(arrays["weights"], dtype=np.float32)
        self.popularity_ = np.asarray(arrays["popularity"], np.float32)
