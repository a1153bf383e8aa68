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
from cinesync.errors import ConfigError
from cinesync.models.ensemble import fusion
from cinesync.models.ensemble.features import CONTEXT, ItemStats, build_features, feature_names
from cinesync.models.ensemble.ranker import QuerySet, fit_ranker, predict, user_folds
from cinesync.ranking.candidates import Candidates, union_topn

log = logging.getLogger(__name__)
COMBINERS = ("ranker", "rrf", "weighted", "adaptive")
#: scales of the tuned fusion the ranker may start from (z-score units; LambdaRank's sigmoid is
#: 1; 0 = the trees start from zero), chosen by cross-validated held-out ndcg@10 when
#: ``base_scale="auto"`` (the default); the best scale differs between data sets (docs/ensemble.md)
BASE_SCALES: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)
BASE_SCALE: float | str = "auto"
#: user-level cross-validation folds over the validation users for the ranker's choices
RANKER_FOLDS = 3
#: the scale of rankers saved before the scale was a setting
LEGACY_BASE_SCALE = 2.0


@dataclass
class Pool:
    """Candidates of n queries and their (nnz, f) features (context columns last, when present)."""

    cands: Candidates
    X: np.ndarray
    names: list[str]
    lengths: np.ndarray
    n_members: int
    #: (n,) user index of each query (``HistoryBatch.users``; -1 = anonymous)
    users: np.ndarray | None = None

    @classmethod
    def build(cls, member_scores: list[np.ndarray], history: HistoryBatch, stats: ItemStats,
              n_per_member: int) -> Pool:
        """member_scores: (n, n_items) member scores with seen items at -inf."""
        cands = union_topn(member_scores, n_per_member)
        X = build_features(member_scores, cands, history, stats, context=True, n_per_member=n_per_member)
        return cls(cands, X, feature_names(len(member_scores), True), history.lengths.astype(np.float64),
                   len(member_scores), np.asarray(history.users))

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
                 context: bool | str = True, buckets: int = 3, rrf_k: float = 60.0,
                 max_rounds: int = 600, extra: list[tuple[Pool, sp.spmatrix]] | None = None,
                 base_scale: float | str = BASE_SCALE, folds: int = RANKER_FOLDS, bag: bool = False
                 ) -> dict[str, Any]:
    """Fit ``kind`` on the validation pool; returns its state (arrays / text, JSON-able sizes).

    context: use the time-context columns (True / False) or, for the ranker, "auto": train both
    and keep the one with the better held-out ndcg@10 (the fusions do not read context).
    extra: inner pools (``ensemble.augment``) with their targets; the ranker adds their queries
    to its fitting part, except the queries of the validation users held out for model
    selection, which join the held-out part. The fusions use the validation pool only.
    base_scale: the ranker starts from the tuned weighted fusion scaled to this total weight
    (0 = from zero), or "auto": the one of ``BASE_SCALES`` with the best held-out ndcg@10.
    folds: user-level cross-validation folds over the validation users for the ranker's
    choices (settings, rounds, context, base scale); 1 = a single 80/20 holdout.
    """
    if folds < 1:
        raise ConfigError(f"folds must be >= 1, got {folds}")
    scales = base_scales(base_scale)
    if context not in (True, False, "auto"):
        raise ConfigError(f"context must be true, false or 'auto', got {context!r}")
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
        parts = user_folds(pool.cands, labels, folds, seed)
        # the fusion the trees start from: tuned on every validation user (one weight per member)
        w, _ = fusion.tune_weights(pool.z, pool.cands, labels, n_targets)
        state["weights"], state["folds"] = w, int(folds)
        users = pool.users if pool.users is not None else np.full(len(pool.cands), -1)
        inner = [_InnerPool.of(p, t, w) for p, t in (extra or [])]
        fits = []
        for ctx_on in ((True, False) if context == "auto" else (bool(context),)):
            cv = []
            for fit_rows, hold_rows in parts:
                halves = [q.split(ctx_on, users[hold_rows]) for q in inner]
                cv.append((fit_rows, hold_rows, [f for f, _ in halves if len(f.groups)],
                           [h for _, h in halves if len(h.groups)]))
            fit = fit_ranker(pool.features(ctx_on), labels, pool.cands, seed=seed, threads=threads,
                             names=pool.feature_names(ctx_on), base_score=_base(pool, w, 1.0),
                             max_rounds=max_rounds, folds=cv, scales=scales, bag=bag)
            fits.append((fit.holdout_ndcg, ctx_on, fit))
            log.info("ranker (context %s): held-out ndcg@10=%.4f at base scale %g", "on" if ctx_on else "off",
                     fit.holdout_ndcg, fit.scale)
        _, ctx_on, fit = max(fits, key=lambda f: f[0])
        state.update(context=ctx_on, model_text=fit.model_text, params=fit.params, rounds=fit.rounds,
                     base_scale=fit.scale, bag_texts=fit.bag_texts,
                     holdout_ndcg=fit.holdout_ndcg, trials=fit.trials, n_queries=fit.n_queries,
                     n_inner_queries=int(sum(len(q.useful) for q in inner)))
        log.info("ranker: %d training queries (%d from inner pools), context %s, %d rounds", fit.n_queries,
                 state["n_inner_queries"], "on" if ctx_on else "off", fit.rounds)
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
        base = _base(pool, np.asarray(state["weights"]), float(state.get("base_scale", LEGACY_BASE_SCALE)))
        return predict(str(state["model_text"]), pool.features(bool(state["context"])), threads, base,
                       [str(t) for t in state.get("bag_texts", [])])
    raise ConfigError(f"unknown combiner {kind!r}; expected one of {', '.join(COMBINERS)}")


@dataclass
class _InnerPool:
    """An inner pool's queries with a target among their candidates, labels and base score (computed once)."""

    pool: Pool
    labels: np.ndarray
    useful: np.ndarray
    base: np.ndarray | None

    @classmethod
    def of(cls, pool: Pool, targets: sp.spmatrix, weights: np.ndarray) -> _InnerPool:
        """``weights``: the tuned fusion; its base is kept at scale 1 (``fit_ranker`` scales it)."""
        labels = pool.cands.labels(targets)
        useful = np.bincount(pool.cands.rows, weights=labels, minlength=len(pool.cands)) > 0
        return cls(pool, labels, np.flatnonzero(useful), _base(pool, weights, 1.0))

    def split(self, context: bool, held_users: np.ndarray) -> tuple[QuerySet, QuerySet]:
        """(fit part, held-out part): a query is held out when its user is one of ``held_users``
        (the validation users held out for model selection), so no user is on both sides."""
        p = self.pool
        held = np.zeros(len(self.useful), bool)
        if p.users is not None and len(held_users):
            held = np.isin(p.users[self.useful], held_users[held_users >= 0])
        X = p.features(context)
        return (QuerySet.of(X, self.labels, p.cands, self.useful[~held], self.base),
                QuerySet.of(X, self.labels, p.cands, self.useful[held], self.base))


def base_scales(base_scale: float | str) -> tuple[float, ...]:
    """The scales ``fit_combiner`` tries for ``base_scale`` (a number >= 0 or "auto")."""
    if base_scale == "auto":
        return BASE_SCALES
    if isinstance(base_scale, str) or not 0 <= base_scale < float("inf"):
        raise ConfigError(f"base_scale must be a number >= 0 or 'auto', got {base_scale!r}")
    return (float(base_scale),)


def _base(pool: Pool, weights: np.ndarray, scale: float) -> np.ndarray | None:
    """(nnz,) the ranker's starting score: the weighted fusion scaled to total weight ``scale`` (None for 0)."""
    if scale <= 0:
        return None
    return fusion.weighted(pool.z, weights) * (scale / max(float(np.sum(weights)), 1e-9))


def equal_weights(n_members: int) -> dict[str, Any]:
    """The fallback combiner when no validation data is given: equal-weight z-score sum."""
    return {"kind": "weighted", "rrf_k": 60.0, "context": True, "weights": np.ones(n_members)}
