"""Evaluation runner: tune on validation, score test in user chunks, collect per-user metrics.

Memory stays bounded: scores exist only for one chunk of users at a time; what is kept
is the (n_users, max K) top-list array and per-user metric vectors.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinesync.data.arrays import unique_int
from cinesync.data.history import HistoryBatch
from cinesync.eval import beyond
from cinesync.eval.tuning import grid, search
from cinesync.metrics import mae, ranking_metrics, rmse
from cinesync.models.base import FitContext, Recommender
from cinesync.models.registry import model_class
from cinesync.ranking.chunked import rank_chunks
from cinesync.training.validation import ValidationData

log = logging.getLogger(__name__)


@dataclass
class RankedLists:
    """Top lists for a set of query users. top: (n, K) int64 item indices (-1 pads)."""

    users: np.ndarray
    top: np.ndarray
    targets: sp.csr_matrix
    history: HistoryBatch
    seconds: float


@dataclass
class ModelResult:
    """Everything measured for one model on one split."""

    model: str
    config: dict[str, Any]
    per_user: dict[str, np.ndarray]
    users: np.ndarray
    top: np.ndarray
    fit_seconds: float
    eval_seconds: float
    tuning: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    def means(self) -> dict[str, float]:
        out = {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in self.per_user.items()}
        out.update(self.extra)
        return out


def rank_split(model: Recommender, split: Any, part: str, k: int, batch_size: int = 2048,
               progress: bool = False) -> RankedLists:
    """Rank the valid or test queries of ``split`` (see ``Split.valid_queries``/``test_queries``)."""
    history, targets, exclude, users = split.valid_queries() if part == "valid" else split.test_queries()
    t0 = time.perf_counter()
    top = rank_chunks(model.score, history, k, exclude=exclude, batch_size=batch_size, progress=progress,
                      desc=f"{model.name} {part}")
    return RankedLists(users, top, sp.csr_matrix(targets), history, time.perf_counter() - t0)


def fit_model(name: str, config: dict[str, Any], split: Any, seed: int, ctx: FitContext | None = None,
              progress: bool = False) -> tuple[Recommender, float]:
    """Build and fit one model on ``split.train``; returns (model, seconds).

    ``ctx`` carries the run options (device, threads, training logs, item vectors, ...); its seed,
    progress flag and validation data (the split's validation queries) are set here."""
    model = model_class(name)(config)
    try:
        history, targets, exclude, _ = split.valid_queries()
        valid = ValidationData(history, targets, exclude)
    except (ValueError, IndexError):
        valid = None
    ctx = replace(ctx or FitContext(), seed=seed, progress=progress, valid=valid)
    t0 = time.perf_counter()
    model.fit(split.train, ctx)
    return model, time.perf_counter() - t0


def tune(name: str, base: dict[str, Any], split: Any, metric: str = "ndcg@10", seed: int = 0,
         batch_size: int = 2048, progress: bool = False, ctx: FitContext | None = None
         ) -> tuple[Recommender, dict[str, Any], list[dict], float]:
    """Grid-search ``name``'s ``tune_grid`` on the VALIDATION part only.

    Returns (best fitted model, its config, one record per candidate, fit seconds of the best).
    Keys fixed in ``base`` are not searched. ``ctx``: the run options of every fit (device, threads,
    logs); its seed and validation data are set here.
    """
    space = {k: v for k, v in model_class(name).tune_grid.items() if k not in base}
    candidates = [{**base, **cand} for cand in grid(space)]
    k = int(metric.split("@")[1])
    def trial(cfg: dict[str, Any]) -> tuple[Recommender, dict[str, float]]:
        model, fit_s = fit_model(name, cfg, split, seed, ctx)
        ranked = rank_split(model, split, "valid", k, batch_size)
        value = float(np.nanmean(ranking_metrics(ranked.top, ranked.targets, [k])[metric]))
        log.info("tune %s %s: valid %s=%.4f (fit %.1fs)", name, {p: cfg[p] for p in space} or "(defaults)",
                 metric, value, fit_s)
        return model, {metric: value, "fit_seconds": fit_s}

    t0 = time.perf_counter()
    found = search(candidates, trial, metric, desc=f"tune {name}", progress=progress)
    if len(candidates) > 1:
        log.info("tune %s: chose %s (valid %s=%.4f) in %.1fs", name, found.config, metric, found.value,
                 time.perf_counter() - t0)
    return found.model, found.config, found.records, found.fit_seconds


def evaluate(name: str, split: Any, ks: list[int], config: dict[str, Any] | None = None, tune_on_valid: bool = True,
             seed: int = 0, batch_size: int = 2048, beyond_metrics: bool = True,
             popular_top: np.ndarray | None = None, progress: bool = False,
             sampled_negatives: int = 0, ctx: FitContext | None = None) -> ModelResult:
    """Tune (optional) on valid, then score test; per-user metrics + beyond-accuracy figures.
    ``ctx``: the run options of every fit (see ``fit_model``)."""
    config = dict(config or {})
    has_valid = len(split.valid) > 0
    if tune_on_valid and has_valid:
        model, config, records, fit_s = tune(name, config, split, f"ndcg@{min(ks)}", seed, batch_size, progress,
                                             ctx)
    else:
        model, fit_s = fit_model(name, config, split, seed, ctx, progress)
        records = []
    kmax = max(ks)
    ranked = rank_split(model, split, "test", kmax, batch_size, progress)
    per_user = ranking_metrics(ranked.top, ranked.targets, ks)
    result = ModelResult(name, {**model.config.model_dump(mode="json")}, per_user, ranked.users, ranked.top,
                         fit_s, ranked.seconds, records)
    if beyond_metrics:
        result.per_user.update(_beyond(split, ranked, ks, popular_top))
        result.extra.update(_catalogue_metrics(split, ranked, ks))
    if sampled_negatives > 0:
        from cinesync.eval.sampled import sampled_metrics

        result.per_user.update(sampled_metrics(model, split, sampled_negatives, ks, seed, batch_size))
    if getattr(model, "uses_ratings", False):
        result.extra.update(_rating_metrics(model, split))
    return result


def _beyond(split: Any, ranked: RankedLists, ks: list[int], popular_top: np.ndarray | None) -> dict[str, np.ndarray]:
    train = split.train
    counts = train.item_counts()
    genres = train.catalog.genre_matrix
    out: dict[str, np.ndarray] = {}
    for k in ks:
        top = ranked.top[:, :k]
        out[f"novelty@{k}"] = beyond.novelty(top, counts, train.n_users)
        out[f"avg_popularity@{k}"] = beyond.average_popularity(top, counts)
        out[f"long_tail_share@{k}"] = beyond.long_tail_share(top, counts)
        if genres.shape[1] > 0:
            out[f"ild_genre@{k}"] = beyond.intra_list_diversity(top, genres)
        if popular_top is not None:
            out[f"serendipity@{k}"] = beyond.serendipity(top, ranked.targets, popular_top[ranked.users][:, :k])
    return out


def _catalogue_metrics(split: Any, ranked: RankedLists, ks: list[int]) -> dict[str, float]:
    n_items = split.train.n_items
    out = {}
    for k in ks:
        out[f"coverage@{k}"] = float(beyond.coverage(ranked.top[:, :k], n_items))
        out[f"gini@{k}"] = float(beyond.gini(ranked.top[:, :k], n_items))
    return out


def _rating_metrics(model: Recommender, split: Any) -> dict[str, float]:
    test = split.test
    if test.rating is None or len(test) == 0 or np.ptp(test.rating) == 0 or not hasattr(model, "predict"):
        return {}
    hist = split.train.histories(unique_int(test.user))
    row_of = np.full(split.train.n_users, -1, np.int64)
    row_of[hist.users] = np.arange(len(hist))
    pred = model.predict(hist, test.item, rows=row_of[test.user])
    return {"rmse": float(rmse(pred, test.rating)), "mae": float(mae(pred, test.rating))}


def activity_of(split: Any, users: np.ndarray) -> np.ndarray:
    """Training-history length of each query user (for per-group fairness results)."""
    return split.train.user_counts()[users]
