""""More like this" by embedding cosine: the items nearest to one item (top-k via ``cinesync.ranking``)."""

from __future__ import annotations

import numpy as np

from cinesync.errors import DataError
from cinesync.ranking import recommend


def similar_items(embeddings: np.ndarray, item: int, k: int = 10,
                  allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` items most similar to ``item`` by cosine of (n_items, d) unit ``embeddings``.

    Returns (indices (k,) int64, cosines (k,) float32), best first; ``item`` itself is never
    returned; ``allowed`` is an optional (n_items,) bool candidate mask; -1 pads short lists.
    """
    e = np.asarray(embeddings, np.float32)
    if e.ndim != 2:
        raise DataError(f"embeddings must be (n_items, d), got shape {e.shape}")
    if not 0 <= int(item) < len(e):
        raise DataError(f"item index {item} outside 0..{len(e) - 1}")
    sims = (e @ e[int(item)])[None, :].copy()
    sims[0, int(item)] = -np.inf
    top, vals = recommend(sims, k, allowed=allowed)
    return top[0], vals[0].astype(np.float32)
