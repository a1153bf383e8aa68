"""LightGBM LambdaRank over candidate features, trained on VALIDATION labels only.

Queries (users) with at least one target among their candidates are split user-wise into
fitting and held-out parts (one holdout or k folds); every setting in ``RANKER_GRID`` trains
with early stopping on held-out ndcg@10, optionally starting from a base score (e.g. a tuned
fusion) that the trees correct, whose scale can be chosen the same way (``scales``). Extra
queries (inner pools, ``ensemble.augment``) join the fitting part, or the held-out part for
the held-out users, so the choice is made on held-out users alone. The best setting is
refitted on all queries for its best number of rounds (optionally averaged with its fold
models, ``bag``). The model is kept as LightGBM's text format (no pickle).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cinesync.errors import DataError
from cinesync.extras import require
from cinesync.ranking.candidates import Candidates

log = logging.getLogger(__name__)

RANKER_GRID: tuple[dict[str, Any], ...] = (
    {"num_leaves": 15, "min_data_in_leaf": 50, "learning_rate": 0.05},
    {"num_leaves": 31, "min_data_in_leaf": 20, "learning_rate": 0.05},
    {"num_leaves": 63, "min_data_in_leaf": 100, "learning_rate": 0.03},
)


@dataclass
class QuerySet:
    """Training queries as LightGBM wants them: (rows, f) features, (rows,) labels, group sizes, base score
    (at scale 1; ``fit_ranker`` multiplies it by the scale it tries)."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    base: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray, labels: np.ndarray, cands: Candidates, rows: np.ndarray,
           base_score: np.ndarray | None) -> QuerySet:
        Xs, ys, gs = _subset(X, labels, cands, rows)
        init = np.zeros(len(labels)) if base_score is None else np.asarray(base_score, np.float64)
        return cls(Xs, ys, gs, _subset(init[:, None], labels, cands, rows)[0].ravel())

    @staticmethod
    def concat(parts: list[QuerySet]) -> QuerySet:
        return QuerySet(np.vstack([p.X for p in parts]), np.concatenate([p.y for p in parts]),
                        np.concatenate([p.groups for p in parts]), np.concatenate([p.base for p in parts]))


@dataclass
class RankerFit:
    """The fitted booster as text plus what was chosen on the held-out validation users."""

    model_text: str
    params: dict[str, Any]
    rounds: int
    holdout_ndcg: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    #: training queries of the final refit: validation + inner pools
    n_queries: int = 0
    #: the chosen multiplier of the base score (one of ``fit_ranker``'s ``scales``)
    scale: float = 1.0
    #: with ``bag``: the chosen setting's cross-validation fold models (each at its best round),
    #: averaged with ``model_text`` by ``predict``
    bag_texts: list[str] = field(default_factory=list)


def _base_params(seed: int, threads: int) -> dict[str, Any]:
    return {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "lambdarank_truncation_level": 30,
            "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1, "lambda_l2": 1.0,
            "seed": seed, "deterministic": True, "force_row_wise": True, "num_threads": threads, "verbose": -1}


def _subset(X: np.ndarray, y: np.ndarray, cands: Candidates, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray]:
    """Feature rows, labels and group sizes of the given queries (in the given order)."""
    sizes = cands.sizes[rows]
    src = np.repeat(cands.indptr[rows], sizes) + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    return X[src], y[src], sizes


def split_queries(cands: Candidates, labels: np.ndarray, seed: int = 0,
                  holdout_frac: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """User-level split of the validation queries that have a target among their candidates.

    Returns (fit rows, held-out rows), both sorted query indices.
    """
    pos = np.bincount(cands.rows, weights=labels, minlength=len(cands))
    useful = np.flatnonzero(pos > 0)
    if len(useful) < 4:
        raise DataError(f"ranker: only {len(useful)} validation queries have a target among their candidates; "
                        "need at least 4")
    perm = np.random.default_rng(seed).permutation(useful)
    n_hold = max(1, int(round(holdout_frac * len(perm))))
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold])


def user_folds(cands: Candidates, labels: np.ndarray, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` user-level (fit rows, held-out rows) partitions of the queries with a target among their
    candidates: every such query is held out exactly once (k = 1: one 80/20 split, ``split_queries``)."""
    if k <= 1:
        return [split_queries(cands, labels, seed)]
    pos = np.bincount(cands.rows, weights=labels, minlength=len(cands))
    useful = np.flatnonzero(pos > 0)
    if len(useful) < 2 * k:
        raise DataError(f"ranker: only {len(useful)} validation queries have a target among their candidates; "
                        f"need at least {2 * k} for {k} folds")
    perm = np.random.default_rng(seed).permutation(useful)
    parts = np.array_split(perm, k)
    return [(np.sort(np.concatenate(parts[:j] + parts[j + 1:])), np.sort(parts[j])) for j in range(k)]


def fit_ranker(X: np.ndarray, labels: np.ndarray, cands: Candidates, seed: int = 0, threads: int = 1,
               holdout_frac: float = 0.2, max_rounds: int = 600, grid: tuple[dict, ...] = RANKER_GRID,
               names: list[str] | None = None, base_score: np.ndarray | None = None,
               queries: tuple[np.ndarray, np.ndarray] | None = None, extra: list[QuerySet] | None = None,
               extra_held: list[QuerySet] | None = None,
               folds: list[tuple[np.ndarray, np.ndarray, list[QuerySet], list[QuerySet]]] | None = None,
               scales: tuple[float, ...] = (1.0,), bag: bool = False) -> RankerFit:
    """Train the LambdaRank model on (nnz, f) features ``X`` and (nnz,) 0/1 validation ``labels``.

    base_score: (nnz,) optional starting score (e.g. a tuned fusion); the trees learn a
    correction on top of ``scale * base_score``, and ``predict`` must be given that same
    scaled base. queries: (fit rows, held-out rows) from ``split_queries`` (made here when not
    given). extra: more training queries (same feature columns, base computed the same way) for
    the fitting part only. folds: (fit rows, held-out rows, extra fit, extra held-out) per
    cross-validation fold (instead of queries / extra). scales: candidate multipliers of the
    base; with several, the first grid setting picks the scale with the best held-out ndcg@10
    and the other settings are then tried at that scale. bag: keep the chosen setting's fold
    models too (``RankerFit.bag_texts``); ``predict`` averages them with the final model.
    """
    require("lightgbm", extra="models", what="the ensemble's ranker")
    import lightgbm as lgb

    if X.shape[0] != len(labels) or X.shape[0] != cands.indptr[-1]:
        raise DataError(f"ranker: {X.shape[0]} feature rows, {len(labels)} labels, {cands.indptr[-1]} candidates")
    if not scales or min(scales) < 0:
        raise DataError(f"ranker: base scales must be a non-empty list of values >= 0, got {scales!r}")
    if folds is None:
        fit_rows, hold = queries if queries is not None else split_queries(cands, labels, seed, holdout_frac)
        folds = [(fit_rows, hold, list(extra or []), list(extra_held or []))]
    if any(e.X.shape[1] != X.shape[1] for f in folds for e in f[2] + f[3]):
        raise DataError("ranker: extra training queries have a different number of feature columns")
    useful = np.unique(np.concatenate([np.concatenate([f[0], f[1]]) for f in folds]))
    data = [(QuerySet.concat([QuerySet.of(X, labels, cands, fr, base_score), *ex]),
             QuerySet.concat([QuerySet.of(X, labels, cands, hr, base_score), *exh])) for fr, hr, ex, exh in folds]
    everything = QuerySet.concat([QuerySet.of(X, labels, cands, useful, base_score), *folds[0][2], *folds[0][3]])
    base = _base_params(seed, threads)

    def cross_validate(setting: dict[str, Any], scale: float) -> dict[str, Any]:
        params = {**base, **setting}
        scores, fold_rounds, texts = [], [], []
        for fit, held in data:
            dtrain = lgb.Dataset(fit.X, fit.y, group=fit.groups, init_score=scale * fit.base,
                                 feature_name=names or "auto", free_raw_data=False)
            dvalid = lgb.Dataset(held.X, held.y, group=held.groups, init_score=scale * held.base, reference=dtrain)
            booster = lgb.train(params, dtrain, num_boost_round=max_rounds, valid_sets=[dvalid],
                                callbacks=[lgb.early_stopping(50, verbose=False)])
            scores.append(float(booster.best_score["valid_0"]["ndcg@10"]))
            fold_rounds.append(max(1, int(booster.best_iteration)))
            if bag:
                texts.append(booster.model_to_string(num_iteration=fold_rounds[-1]))
        trial = {**setting, "scale": float(scale), "rounds": max(1, int(round(np.mean(fold_rounds)))),
                 "holdout_ndcg@10": float(np.mean(scores)), "fold_ndcg@10": scores, "_texts": texts}
        log.info("ranker %s at base scale %g: held-out ndcg@10=%.4f (%d folds) at %d rounds", setting, scale,
                 trial["holdout_ndcg@10"], len(data), trial["rounds"])
        return trial

    def score(trial: tuple[dict[str, Any], dict[str, Any]]) -> float:
        return float(trial[1]["holdout_ndcg@10"])

    tried = [(grid[0], cross_validate(grid[0], float(s))) for s in dict.fromkeys(scales)]
    scale = float(max(tried, key=score)[1]["scale"])
    tried += [(setting, cross_validate(setting, scale)) for setting in grid[1:]]
    setting, best = max((t for t in tried if t[1]["scale"] == scale), key=score)
    final = lgb.train({**base, **setting}, lgb.Dataset(everything.X, everything.y, group=everything.groups,
                                                       init_score=scale * everything.base,
                                                       feature_name=names or "auto"),
                      num_boost_round=best["rounds"])
    return RankerFit(final.model_to_string(), dict(setting), best["rounds"], float(best["holdout_ndcg@10"]),
                     [{k: v for k, v in t.items() if k != "_texts"} for _, t in tried], int(len(everything.groups)),
                     scale, best["_texts"])


def predict(model_text: str, X: np.ndarray, threads: int = 1, base_score: np.ndarray | None = None,
            bag_texts: list[str] | None = None) -> np.ndarray:
    """(nnz,) ranker scores of (nnz, f) features (plus the same ``base_score`` used in training);
    with ``bag_texts`` the trees' output is the mean over ``model_text`` and those models."""
    require("lightgbm", extra="models", what="the ensemble's ranker")
    import lightgbm as lgb

    if X.shape[0] == 0:
        return np.zeros(0)
    texts = [model_text, *(bag_texts or [])]
    out = np.mean([np.asarray(lgb.Booster(model_str=t).predict(X, num_threads=threads), np.float64) for t in texts],
                  axis=0)
    return out if base_score is None else out + base_score
