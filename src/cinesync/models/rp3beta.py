"""RP3beta (Paudel et al. 2017; as in Dacrema et al. 2019): a 3-step random walk
item -> user -> item, with transition probabilities raised to ``alpha`` and the arrival
item's popularity discounted by ``beta``.

W[i, j] = sum_u P_iu[i, u]^alpha * P_ui[u, j]^alpha / pop_j^beta, P_ui / P_iu the
row-normalised user->item / item->user transition matrices; the diagonal is zeroed and
each row i keeps its ``k`` largest entries (sparse). score(h) = h @ W for any history h.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import pydantic
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.models.base import FitContext, ModelConfig
from cinesync.models.itemitem import ItemWeightsRecommender
from cinesync.models.registry import register
from cinesync.models.sparse_utils import popularity, row_chunks, topk_rows

log = logging.getLogger(__name__)

#: item rows of W computed per block (bounds a dense (block, n_items) float64 array)
BLOCK_ROWS = 1024
#: P_ui is densified for the block products when it fits in this many bytes (float64)
DENSE_BUDGET_BYTES = 512 * 2**20


class RP3betaConfig(ModelConfig):
    """alpha: exponent on the transition probabilities (1 = plain random walk, P3alpha).
    beta: popularity discount of the arrival item (0 = none). k: neighbours kept per item."""

    alpha: float = pydantic.Field(0.7, gt=0.0)
    beta: float = pydantic.Field(0.4, ge=0.0)
    k: int = pydantic.Field(100, ge=1)


def _row_normalise(m: sp.csr_matrix, power: float) -> sp.csr_matrix:
    """Rows scaled to sum 1 (rows of zeros stay zero), then element-wise ``** power``."""
    m = m.astype(np.float64).tocsr()
    sums = np.asarray(m.sum(axis=1)).ravel()
    m.data /= np.repeat(np.where(sums > 0, sums, 1.0), np.diff(m.indptr))
    if power != 1.0:
        m.data **= power
    return m


@register
class RP3beta(ItemWeightsRecommender):
    """Graph random-walk item similarity with popularity discount. Empty history -> popularity."""

    name = "rp3beta"
    config_class = RP3betaConfig
    tune_grid: ClassVar[dict[str, list]] = {"alpha": [0.5, 1.0], "beta": [0.0, 0.25, 0.5, 0.7]}

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        x = train.csr()
        a, b = self.config.alpha, self.config.beta
        p_ui = _row_normalise(x, a)  # (users, items)
        p_iu = _row_normalise(x.T.tocsr(), a)  # (items, users)
        pop = np.diff(x.tocsc().indptr).astype(np.float64)
        discount = np.where(pop > 0, np.power(np.maximum(pop, 1.0), -b), 0.0)
        dense_p_ui: Any = p_ui.toarray() if p_ui.shape[0] * p_ui.shape[1] * 8 <= DENSE_BUDGET_BYTES else p_ui
        parts = []
        for sl in row_chunks(x.shape[1], BLOCK_ROWS):
            w = p_iu[sl] @ dense_p_ui
            w = (w.toarray() if sp.issparse(w) else w) * discount[None, :]
            w[np.arange(w.shape[0]), np.arange(sl.start, sl.stop)] = 0.0
            parts.append(topk_rows(w, self.config.k))
        self.weights_ = sp.vstack(parts, format="csr")
        self.popularity_ = popularity(x)
        log.debug("rp3beta: %d item-item weights kept", self.weights_.nnz)
