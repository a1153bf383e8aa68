"""The one chunked ranking loop: score a batch of histories a chunk of rows at a time, mask, top-k.

Evaluation, early stopping, the cold-start and cross-domain protocols all rank through here, so
memory stays bounded (scores exist for one chunk only) and every list is cut the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from cinesync.data.history import HistoryBatch
from cinesync.ranking.lists import recommend


def rank_chunks(score: Callable[[HistoryBatch], np.ndarray], history: HistoryBatch, k: int, *,
                exclude: sp.spmatrix | None = None, allowed: np.ndarray | None = None,
                tie_order: np.ndarray | None = None, batch_size: int = 2048, progress: bool = False,
                desc: str = "scoring") -> np.ndarray:
    """(n, k) int64 top-``k`` item indices (-1 pads) for every row of ``history``.

    score: HistoryBatch -> (rows, n_items) scores (a model's ``score``). exclude: (n, n_items) sparse
    matrix of items never to rank (seen items); allowed: (n_items,) bool candidate mask. tie_order:
    an (n_items,) permutation; equal scores are then ordered by position in it instead of by item
    index (a seeded random order keeps a model that cannot tell items apart neutral).
    """
    n = len(history)
    out = np.full((n, k), -1, np.int64)
    for s in tqdm(range(0, n, batch_size), desc=desc, disable=not progress, leave=False, unit="chunk"):
        rows = np.arange(s, min(s + batch_size, n))
        scores = np.asarray(score(history.select(rows)), np.float32)
        ex = None if exclude is None else sp.csr_matrix(exclude[rows])
        if tie_order is None:
            out[rows], _ = recommend(scores, k, exclude=ex, allowed=allowed)
            continue
        perm = np.asarray(tie_order, np.int64)
        top, _ = recommend(scores[:, perm], k, exclude=None if ex is None else ex[:, perm],
                           allowed=None if allowed is None else np.asarray(allowed)[perm])
        out[rows] = np.where(top >= 0, perm[np.maximum(top, 0)], -1)
    return out
