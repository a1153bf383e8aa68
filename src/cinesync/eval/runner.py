"""Evaluation runner: tune on validation, score test in user chunks, collect per-user metrics.

Memory stays bounded: scores exist only for one chunk of users at a time; what is kept
is the (n_users, max K) top-list array and per-user metric vectors.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from cinesync.data.arrays import unique_int
from cinesync.data.history import HistoryBatch
from cinesync.eval import beyond
from cinesync.eval.metrics import mae, ranking_metrics, rmse
from cinesync.models.base import FitContext, Recommender, ValidationData
from cinesync.models.registry import model_class
from cinesync.ranking import recommend

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


def rank_queries(model: Recommender, history: HistoryBatch, exclude: sp.csr_matrix, k: int,
                 batch_size: int = 2048, progress: bool = False, desc: str = "scoring") -> np.ndarray:
    """Top-``k`` item indices (n, k) for every query, scoring ``batch_size`` users at a time."""
    n = len(history)
    out = np.full((n, k), -1, np.int64)
    starts = range(0, n, batch_size)
    for s in tqdm(starts, desc=desc, disable=not progress, leave=False, unit="chunk"):
        rows = np.arange(s, min(s + batch_size, n))
        scores = model.score(history.select(rows))
        out[rows], _ = recommend(scores, k, exclude=exclude[rows])
    return out


def rank_split(model: Recommender, split: Any, part: str, k: int, batch_size: int = 2048,
               progress: bool = False) -> RankedLists:
    """Rank the valid or test queries of ``split`` (see ``Split.valid_queries``/``test_queries``)."""
    history, targets, exclude, users = split.valid_queries() if part == "valid" else split.test_queries()
    t0 = time.perf_counter()
    top = rank_queries(model, history, exclude, k, batch_size, progress, desc=f"{model.name} {part}")
    return RankedLists(users, top, sp.csr_matrix(targets), history, time.perf_counter() - t0)


def fit_model(name: str, config: dict[str, Any], split: Any, seed: int, progress: bool = False,
              device: str = "cpu", extra: dict[str, Any] | None = None) -> tuple[Recommender, float]:
    """Build and fit one model on ``split.train``; returns (model, seconds).

    ``device`` and ``extra`` go to the ``FitContext`` (neural models: "cpu"/"cuda", and
    e.g. ``checkpoint_dir``, ``metrics_log``, ``tracker``)."""
    model = model_class(name)(config)
    ctx = FitContext(seed=seed, progress=progress, device=device, extra=dict(extra or {}))
    try:
        history, targets, exclude, _ = split.valid_queries()
        ctx.valid = ValidationData(history, targets, exclude)
    except (ValueError, IndexError):
        ctx.valid = None
    t0 = time.perf_counter()
    model.fit(split.train, ctx)
    return model, time.perf_counter() - t0


def grid(space: dict[str, list]) -> list[dict[str, Any]]:
    """Cartesian product of a {param: [values]} grid (one empty dict if the grid is empty)."""
    if not space:
        return [{}]
    keys = list(space)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(space[k] for k in keys))]


def tune(name: str, base: dict[str, Any], split: Any, metric: str = "ndcg@10", seed: int = 0,
         batch_size: int = 2048, progress: bool = False, device: str = "cpu",
         extra: dict[str, Any] | None = None) -> tuple[Recommender, dict[str, Any], list[dict], float]:
    """Grid-search ``name``'s ``tune_grid`` on the VALIDATION part only.

    Returns (best fitted model, its config, one record per candidate, fit seconds of the best).
    Keys fixed in ``base`` are not searched.
    """
    cls = model_class(name)
    space = {k: v for k, v in cls.tune_grid.items() if k not in base}
    candidates = grid(space)
    k = int(metric.split("@")[1])
    records, best = [], None
    for cand in tqdm(candidates, desc=f"tune {name}", disable=not progress or len(candidates) == 1, leave=False):
        cfg = {**base, **cand}
        model, fit_s = fit_model(name, cfg, split, seed, progress=False, device=device, extra=extra)
        ranked = rank_split(model, split, "valid", k, batch_size)
        value = float(np.nanmean(ranking_metrics(ranked.top, ranked.targets, [k])[metric]))
        records.append({"config": cfg, metric: value, "fit_seconds": fit_s})
        log.info("tune %s %s: valid %s=%.4f (fit %.1fs)", name, cand or "(defaults)", metric, value, fit_s)
        if best is None or value > best[0]:
            best = (value, model, cfg, fit_s)
    assert best is not None
    if len(candidates) > 1:
        log.info("tune %s: chose %s (valid %s=%.4f)", name, best[2], metric, best[0])
    return best[1], best[2], records, best[3]


def evaluate(name: str, split: Any, ks: list[int], config: dict[str, Any] | None = None, tune_on_valid: bool = True,
             seed: int = 0, batch_size: int = 2048, beyond_metrics: bool = True,
             popular_top: np.ndarray | None = None, progress: bool = False,
             sampled_negatives: int = 0, device: str = "cpu", extra: dict[str, Any] | None = None) -> ModelResult:
    """Tune (optional) on valid, then score test; per-user metrics + beyond-accuracy figures."""
    config = dict(config or {})
    has_valid = len(split.valid) > 0
    if tune_on_valid and has_valid:
        model, config, records, fit_s = tune(name, config, split, f"ndcg@{min(ks)}", seed, batch_size, progress,
                                             device, extra)
    else:
        model, fit_s = fit_model(name, config, split, seed, progress, device, extra)
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
