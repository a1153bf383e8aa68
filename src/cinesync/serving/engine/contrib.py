"""How much each history item contributes to each target item's score, for any model.

Three sources, best first, picked once per model by ``contribution_source``:

1. exact item-item weights, for models that score ``h @ W`` with a binary history ``h``:
   the contribution of history item i to target j is ``W[i, j]``. Read from the model's
   ``state()``: ItemKNN ``similarity``, RP3beta ``weights``, EASE ``b_dense`` / ``b_sparse``
   or its low-rank dual form (``dual_x``, ``dual_k``, ``pdiag``, restricted to ``keep``).
   A model may instead define ``item_contributions(history_items, target_items) -> (T, H)``
   (the optional ``ItemContributions`` protocol), which takes precedence.
2. cosine similarity of item vectors (ALS / BPR ``item_factors``).
3. leave-one-out: score the history minus each of its last <= 50 items in ONE batched
   ``score`` call; contribution = full score - score without the item.

Sources 1-2 also give "similar titles" (``neighbours(i)``: the scores a one-item history
{i} gives to every item); leave-one-out has none (callers fall back to genre cosine).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from cinesync.data.arrays import unit_rows
from cinesync.data.history import HistoryBatch
from cinesync.models.base import Recommender

log = logging.getLogger(__name__)

#: state() keys holding an (n_items, n_items) matrix W with score = h @ W
ITEM_ITEM_KEYS = ("b_dense", "b_sparse", "weights", "similarity", "B")
#: state() keys holding (n_items, f) item vectors
ITEM_VECTOR_KEYS = ("item_factors", "item_vectors", "item_embeddings")
#: at most this many of the latest history items are attributed by leave-one-out
LOO_MAX = 50


@runtime_checkable
class ItemContributions(Protocol):
    """Optional model method: exact (len(targets), len(history)) contributions."""

    def item_contributions(self, history_items: np.ndarray, target_items: np.ndarray) -> np.ndarray: ...


class ContributionSource(ABC):
    """Base class. ``kind`` names the source for logs and docs."""

    kind = "none"

    @abstractmethod
    def contributions(self, hist: np.ndarray, targets: np.ndarray, batch: HistoryBatch | None = None,
                      full: np.ndarray | None = None) -> np.ndarray:
        """(len(targets), len(hist)) float64. ``hist`` holds distinct item indices.

        batch / full (the one-row history and its (n_items,) scores) are only needed by leave-one-out.
        """

    def neighbours(self, i: int) -> np.ndarray | None:
        """(n_items,) similarity of every item to item ``i`` in the model's space, or None."""
        return None


class MethodSource(ContributionSource):
    kind = "model.item_contributions"

    def __init__(self, model: ItemContributions, n_items: int) -> None:
        self.model, self.n_items = model, n_items

    def contributions(self, hist: np.ndarray, targets: np.ndarray, batch: HistoryBatch | None = None,
                      full: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.model.item_contributions(hist, targets), np.float64)

    def neighbours(self, i: int) -> np.ndarray:
        return self.contributions(np.asarray([i]), np.arange(self.n_items))[:, 0]


class ItemItemSource(ContributionSource):
    """W[i, j] of an (m, m) dense or sparse matrix over the items in ``keep`` (None = all items)."""

    kind = "item-item weights"

    def __init__(self, w: Any, n_items: int, keep: np.ndarray | None = None) -> None:
        self.w = w.tocsr() if sp.issparse(w) else np.asarray(w)
        self.n_items = n_items
        self.pos = None
        if keep is not None and len(keep) != n_items:
            self.pos = np.full(n_items, -1, np.int64)
            self.pos[np.asarray(keep, np.int64)] = np.arange(len(keep))

    def _map(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.asarray(idx, np.int64)
        if self.pos is None:
            return idx, np.ones(len(idx), bool)
        p = self.pos[idx]
        return np.where(p >= 0, p, 0), p >= 0

    def _block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if sp.issparse(self.w):
            return self.w[rows][:, cols].toarray().astype(np.float64)
        return self.w[np.ix_(rows, cols)].astype(np.float64)

    def contributions(self, hist: np.ndarray, targets: np.ndarray, batch: HistoryBatch | None = None,
                      full: np.ndarray | None = None) -> np.ndarray:
        h, h_ok = self._map(hist)
        t, t_ok = self._map(targets)
        out = self._block(h, t).T
        out[:, ~h_ok] = 0.0
        out[~t_ok, :] = 0.0
        return out

    def neighbours(self, i: int) -> np.ndarray:
        return self.contributions(np.asarray([i]), np.arange(self.n_items))[:, 0]


class EASEDualSource(ItemItemSource):
    """EASE stored in Woodbury form: W[i, j] = (x_i^T K x_j) / (l2 * pdiag[j]) for i != j, 0 on the diagonal.

    x_i = item i's column of the (n_users, m) training matrix X. Both X^T and the rows ``x_i^T K``
    are kept dense, (m, n_users) float32 each (together at most the size of a dense B, since EASE
    only picks the dual form when n_users <= m / 2), so a request costs one small dense product.
    """

    kind = "item-item weights (EASE dual)"

    def __init__(self, x: Any, k: np.ndarray, pdiag: np.ndarray, l2: float, n_items: int,
                 keep: np.ndarray | None) -> None:
        super().__init__(np.zeros((0, 0)), n_items, keep)
        xt = sp.csr_matrix(x).T.tocsr().astype(np.float32)  # (m, n_users)
        self.xtk = np.asarray(xt @ np.asarray(k, np.float32), np.float32)  # (m, n_users) rows x_i^T K
        self.xt = xt.toarray()
        self.scale = (1.0 / (l2 * np.asarray(pdiag, np.float64))).astype(np.float32)

    def _block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        out = (self.xtk[rows] @ self.xt[cols].T).astype(np.float64)  # (H, T)
        out *= self.scale[cols][None, :]
        out[rows[:, None] == cols[None, :]] = 0.0
        return out


class VectorSource(ContributionSource):
    """Cosine similarity of (n_items, f) item vectors."""

    kind = "item-vector cosine"

    def __init__(self, vectors: np.ndarray) -> None:
        self.unit = unit_rows(vectors)

    def contributions(self, hist: np.ndarray, targets: np.ndarray, batch: HistoryBatch | None = None,
                      full: np.ndarray | None = None) -> np.ndarray:
        return (self.unit[np.asarray(targets)] @ self.unit[np.asarray(hist)].T).astype(np.float64)

    def neighbours(self, i: int) -> np.ndarray:
        return (self.unit @ self.unit[i]).astype(np.float64)


class LeaveOneOutSource(ContributionSource):
    """Score drop when one history item is removed (last ``LOO_MAX`` distinct items; older ones get 0)."""

    kind = "leave-one-out"

    def __init__(self, model: Recommender) -> None:
        self.model = model

    def contributions(self, hist: np.ndarray, targets: np.ndarray, batch: HistoryBatch | None = None,
                      full: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros((len(targets), len(hist)))
        if batch is None or full is None or len(hist) == 0:
            return out
        row = np.asarray(batch.row(0))
        cols = np.arange(len(hist))[-LOO_MAX:]
        rows_items, rows_r, rows_t = [], [], []
        for c in cols:
            keep = row != hist[c]
            rows_items.append(row[keep])
            rows_r.append(None if batch.ratings is None else batch.ratings[keep])
            rows_t.append(None if batch.timestamps is None else batch.timestamps[keep])
        loo = HistoryBatch.from_lists(
            rows_items, [int(batch.users[0])] * len(cols),
            None if batch.ratings is None else rows_r,  # type: ignore[arg-type]
            None if batch.timestamps is None else rows_t,  # type: ignore[arg-type]
        )
        scores = self.model.score(loo)[:, np.asarray(targets)]  # (L, T)
        out[:, cols] = (np.asarray(full, np.float64)[np.asarray(targets)][None, :] - scores).T
        return out


def contribution_source(model: Recommender, n_items: int) -> ContributionSource:
    """The best available source for ``model`` (see module docstring)."""
    if isinstance(model, ItemContributions):
        return MethodSource(model, n_items)
    try:
        state = model.state()
    except Exception as e:  # an unfitted or exotic model: fall back to leave-one-out
        log.debug("contributions: model.state() failed (%s); using leave-one-out", e)
        state = {}
    keep = state.get("keep")
    m = n_items if keep is None else len(keep)
    for key in ITEM_ITEM_KEYS:
        w = state.get(key)
        if w is not None and getattr(w, "shape", None) == (m, m):
            log.debug("contributions: %s from state()[%r]", ItemItemSource.kind, key)
            return ItemItemSource(w, n_items, keep)
    if all(state.get(k) is not None for k in ("dual_x", "dual_k", "pdiag")):
        l2 = float(getattr(model.config, "l2", 0.0))
        if l2 > 0:
            return EASEDualSource(state["dual_x"], state["dual_k"], state["pdiag"], l2, n_items, keep)
    for key in ITEM_VECTOR_KEYS:
        v = state.get(key)
        if v is not None and getattr(v, "ndim", 0) == 2 and v.shape[0] == n_items:
            log.debug("contributions: %s from state()[%r]", VectorSource.kind, key)
            return VectorSource(np.asarray(v))
    return LeaveOneOutSource(model)
