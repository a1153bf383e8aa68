"""Combiners over a ``Pool`` (candidates + features of one set of queries): fit on validation, apply anywhere.

``Pool.build`` runs once per query set; every combiner ("rrf", "weighted", "adaptive",
"ranker") then works on its arrays. ``fit_combiner`` sees only the validation pool and its
labels; ``apply_combiner`` needs no labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinesync.data.history import HistoryBatch
from cinesync.ensemble import fusion
from cinesync.ensemble.candidates import Candidates, union_topn
from cinesync.ensemble.features import CONTEXT, ItemStats, build_features, feature_names
from cinesync.ensemble.ranker import fit_ranker, predict, split_queries
from cinesync.errors import ConfigError

log = logging.getLogger(__name__)
COMBINERS = ("ranker", "rrf", "weighted", "adaptive")
#: scale of the tuned fusion the ranker starts from (z-score units; LambdaRank's sigmoid is 1)
BASE_SCALE = 2.0


@dataclass
class Pool:
    """Candidates of n queries and their (nnz, f) features (context columns last, when present)."""

    cands: Candidates
    X: np.ndarray
    names: list[str]
    lengths: np.ndarray
    n_members: int

    @classmethod
    def build(cls, member_scores: list[np.ndarray], history: HistoryBatch, stats: ItemStats,
              n_per_member: int) -> Pool:
        """member_scores: (n, n_items) member scores with seen items at -inf."""
        cands = union_topn(member_scores, n_per_member)
        X = build_features(member_scores, cands, history, stats, context=True, n_per_member=n_per_member)
        return cls(cands, X, feature_names(len(member_scores), True), history.lengths.astype(np.float64),
                   len(member_scores))

    @property
    def ranks(self) -> np.ndarray:
        """(nnz, n_members) 0-based full-ranking rank of every candidate per member."""
        return self.X[:, 1:3 * self.n_members:3].astype(np.float64)

    @property
    def z(self) -> np.ndarray:
        """(nnz, n_members) per-query z-scored member scores."""
        return self.X[:, 2:3 * self.n_members:3].astype(np.float64)

    def features(self, context: bool) -> np.ndarray:
        return self.X if context else self.X[:, : len(self.names) - len(CONTEXT)]

    def feature_names(self, context: bool) -> list[str]:
        return self.names if context else self.names[: len(self.names) - len(CONTEXT)]

    def confidence(self) -> np.ndarray:
        """(nnz,) agreement of the members on each candidate: 1 / (1 + std of their z-scores)."""
        return 1.0 / (1.0 + fusion.disagreement(self.z))


def fit_combiner(kind: str, pool: Pool, targets: sp.spmatrix, seed: int = 0, threads: int = 1,
                 context: bool = True, buckets: int = 3, rrf_k: float = 60.0,
                 max_rounds: int = 600) -> dict[str, Any]:
    """Fit ``kind`` on the validation pool; returns its state (arrays / text, JSON-able sizes)."""
    if kind not in COMBINERS:
        raise ConfigError(f"unknown combiner {kind!r}; expected one of {', '.join(COMBINERS)}")
    labels = pool.cands.labels(targets)
    n_targets = np.diff(sp.csr_matrix(targets).indptr)
    state: dict[str, Any] = {"kind": kind, "rrf_k": rrf_k, "context": context}
    if kind == "weighted":
        w, v = fusion.tune_weights(pool.z, pool.cands, labels, n_targets)
        log.info("weighted: weights %s (valid ndcg@10=%.4f)", np.round(w, 2).tolist(), v)
        state["weights"] = w
    elif kind == "adaptive":
        w, _ = fusion.tune_weights(pool.z, pool.cands, labels, n_targets)
        state["edges"], state["bucket_weights"] = fusion.tune_adaptive(pool.z, pool.cands, labels, n_targets,
                                                                       pool.lengths, buckets, start=w)
    elif kind == "ranker":
        queries = split_queries(pool.cands, labels, seed)
        in_fit = np.zeros(len(pool.cands), bool)
        in_fit[queries[0]] = True
        w, _ = fusion.tune_weights(pool.z, pool.cands, labels, n_targets, in_fit)  # fit users only
        state["weights"] = w
        fit = fit_ranker(pool.features(context), labels, pool.cands, seed=seed, threads=threads,
                         names=pool.feature_names(context), base_score=_base(pool, w), queries=queries,
                         max_rounds=max_rounds)
        state.update(model_text=fit.model_text, params=fit.params, rounds=fit.rounds,
                     holdout_ndcg=fit.holdout_ndcg, trials=fit.trials)
    return state


def apply_combiner(state: dict[str, Any], pool: Pool, threads: int = 1) -> np.ndarray:
    """(nnz,) fused score of every candidate in ``pool``."""
    kind = state["kind"]
    if kind == "rrf":
        return fusion.rrf(pool.ranks, float(state["rrf_k"]))
    if kind == "weighted":
        return fusion.weighted(pool.z, np.asarray(state["weights"]))
    if kind == "adaptive":
        return fusion.adaptive(pool.z, pool.cands, pool.lengths, np.asarray(state["edges"]),
                               np.asarray(state["bucket_weights"]))
    if kind == "ranker":
        base = _base(pool, np.asarray(state["weights"]))
        return predict(str(state["model_text"]), pool.features(bool(state["context"])), threads, base)
    raise ConfigError(f"unknown combiner {kind!r}; expected one of {', '.join(COMBINERS)}")


def _base(pool: Pool, weights: np.ndarray) -> np.ndarray:
    """(nnz,) the ranker's starting score: the weighted fusion scaled to unit total weight x ``BASE_SCALE``."""
    return fusion.weighted(pool.z, weights) * (BASE_SCALE / max(float(np.sum(weights)), 1e-9))


def equal_weights(n_members: int) -> dict[str, Any]:
    """The fallback combiner when no validation data is given: equal-weight z-score sum."""
    return {"kind": "weighted", "rrf_k": 60.0, "context": True, "weights": np.ones(n_members)}
