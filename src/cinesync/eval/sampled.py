"""Sampled metrics, only on explicit request: each test item ranked against N random negatives.

They are NOT comparable with full-ranking metrics (Krichene & Rendle, KDD 2020) and are
reported under keys prefixed ``sampled_``.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from cinesync.metrics import sampled_ranking_metrics
from cinesync.models.base import Recommender

log = logging.getLogger(__name__)


def sampled_metrics(model: Recommender, split, n_negatives: int, ks: list[int], seed: int = 0,
                    batch_size: int = 2048) -> dict[str, np.ndarray]:
    """Per-user sampled metrics for the test queries (mean over each user's test items)."""
    warnings.warn("sampled metrics rank each test item against a few random negatives; they are not "
                  "comparable with full-ranking metrics", stacklevel=2)
    history, targets, exclude, _users = split.test_queries()
    rng = np.random.default_rng(seed)
    n_items = split.train.n_items
    pos_scores, neg_scores, owner = [], [], []
    for s in range(0, len(history), batch_size):
        rows = np.arange(s, min(s + batch_size, len(history)))
        scores = model.score(history.select(rows))
        t = targets[rows].tocsr()
        blocked = (t + exclude[rows]).tocsr()
        for j in range(len(rows)):
            tgt = t.indices[t.indptr[j]:t.indptr[j + 1]]
            if len(tgt) == 0:
                continue
            bad = blocked.indices[blocked.indptr[j]:blocked.indptr[j + 1]]
            pool = np.setdiff1d(np.arange(n_items), bad, assume_unique=True)
            if len(pool) == 0:
                continue
            neg = rng.choice(pool, size=(len(tgt), n_negatives), replace=len(pool) < n_negatives)
            pos_scores.append(scores[j, tgt])
            neg_scores.append(scores[j][neg])
            owner.append(np.full(len(tgt), s + j))
    n = len(history)
    if not pos_scores:
        return {}
    per_pair = sampled_ranking_metrics(np.concatenate(pos_scores), np.concatenate(neg_scores), ks)
    who = np.concatenate(owner)
    counts = np.bincount(who, minlength=n).astype(float)
    out = {}
    for key, vals in per_pair.items():
        sums = np.bincount(who, weights=vals, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"sampled_{key}"] = np.where(counts > 0, sums / counts, np.nan)
    return out
