"""Sequential rules (Ludewig & Jannach 2018, "SR"): items that come close together in users'
time-ordered histories.

Every pair of items at distance d <= ``window`` in a training history adds 1/d to C[a, b]
(a before b; ``direction="both"`` also adds it to C[b, a]). Rows are normalised by the source
item's pair mass raised to ``alpha`` (1 = transition probabilities), columns discounted by the
target item's popularity raised to ``beta``; the diagonal is zeroed and each row keeps its ``k``
largest entries. score(h) = sum over the history of w_p * W[h_p], with position weight
w_p = 1 / (1 + steps from the end)^``recency`` (0 = every history item counts the same).

Unlike co-occurrence models (ItemKNN, EASE, RP3beta), which treat a history as a set, the
weights come from *where* items sit in time: neighbours in a rating session, the next film of a
series, a user's pass through one genre. "forward" suits next-item protocols (loo), "both"
random splits, where the held-out items sit anywhere in the user's timeline.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Literal

import numpy as np
import pydantic
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.base import FitContext, ModelConfig
from cinesync.models.itemitem import ItemWeightsRecommender
from cinesync.models.registry import register
from cinesync.models.sparse_utils import popularity, row_chunks, topk_rows

log = logging.getLogger(__name__)

#: item rows of W made dense per block when keeping the top-k (bounds a (block, n_items) array)
BLOCK_ROWS = 1024


class SeqRulesConfig(ModelConfig):
    """window: largest distance (in history steps) of a pair. direction: "forward" (a before b
    predicts b from a) or "both". alpha: source normalisation exponent (1 = probabilities, 0 =
    raw weights). beta: popularity discount of the target item. recency: history position decay
    when scoring (0 = uniform). k: neighbours kept per item."""

    window: int = pydantic.Field(10, ge=1, le=1000)
    direction: Literal["forward", "both"] = "both"
    alpha: float = pydantic.Field(1.0, ge=0.0, le=2.0)
    beta: float = pydantic.Field(0.0, ge=0.0, le=2.0)
    recency: float = pydantic.Field(0.0, ge=0.0, le=5.0)
    k: int = pydantic.Field(200, ge=1)


def pair_weights(history: HistoryBatch, n_items: int, window: int, both: bool) -> sp.csr_matrix:
    """(n_items, n_items) C[a, b] = sum of 1/d over pairs (a, then b d <= window steps later)."""
    users = np.repeat(np.arange(len(history)), history.lengths)
    items = history.items.astype(np.int64)
    total = sp.csr_matrix((n_items, n_items), dtype=np.float64)
    for d in range(1, window + 1):
        a = np.flatnonzero(users[:-d] == users[d:]) if len(items) > d else np.zeros(0, np.int64)
        if not len(a):
            break
        src, dst = items[a], items[a + d]
        keep = src != dst
        rows, cols = (np.concatenate([src[keep], dst[keep]]), np.concatenate([dst[keep], src[keep]])) if both \
            else (src[keep], dst[keep])
        total = total + sp.csr_matrix((np.full(len(rows), 1.0 / d), (rows, cols)), shape=(n_items, n_items))
    total.sum_duplicates()
    return total


@register
class SeqRules(ItemWeightsRecommender):
    """Sequential-rule item similarity over time-ordered histories. Empty history -> popularity."""

    name = "seqrules"
    config_class = SeqRulesConfig
    tune_grid: ClassVar[dict[str, list]] = {"window": [3, 20], "direction": ["forward", "both"],
                                            "recency": [0.0, 1.0]}

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        m = train.n_items
        cfg = self.config
        c = pair_weights(train.histories(), m, cfg.window, cfg.direction == "both")
        mass = np.asarray(c.sum(axis=1)).ravel()
        pop = np.bincount(train.item, minlength=m).astype(np.float64)
        row_scale = np.where(mass > 0, np.power(np.maximum(mass, 1e-12), -cfg.alpha), 0.0)
        col_scale = np.where(pop > 0, np.power(np.maximum(pop, 1.0), -cfg.beta), 0.0)
        w = sp.csr_matrix(sp.diags(row_scale) @ c @ sp.diags(col_scale))
        parts = [topk_rows(w[sl].toarray(), cfg.k) for sl in row_chunks(m, BLOCK_ROWS)]
        self.weights_ = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((m, m), dtype=np.float32)
        self.popularity_ = popularity(train.csr())
        log.debug("seqrules: %d item-item weights kept from %d pairs", self.weights_.nnz, c.nnz)

    def _history(self, batch: HistoryBatch) -> sp.csr_matrix:
        """Each history item weighted 1 / (1 + steps from the end)^recency (repeats add up)."""
        lens = batch.lengths
        rows = np.repeat(np.arange(len(batch)), lens)
        from_end = (np.repeat(batch.indptr[1:], lens) - 1 - np.arange(len(batch.items))).astype(np.float64)
        weight = np.power(1.0 + from_end, -self.config.recency)
        return sp.csr_matrix((weight, (rows, batch.items)), shape=(len(batch), self.weights_.shape[0]))
