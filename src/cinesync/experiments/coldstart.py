"""The cold-start experiment behind ``cinesync coldstart``: both protocols of ``cinesync.data.coldstart``.

Every choice (content text fields and history weighting, EASE's l2, the hybrid curve) is made on
the validation part (validation items / validation users); test figures are computed once, for
the chosen configurations. Results are plain dicts (JSON-ready): per model and user group
{metric: {"mean", "lo", "hi", "n"}} with bootstrap 95 % CIs.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cinesync.data import coldstart as cs
from cinesync.data.dataset import Interactions
from cinesync.eval.stats import paired_test, summarise
from cinesync.eval.tuning import Search, search
from cinesync.metrics import random_expectation, ranking_metrics
from cinesync.models.base import FitContext, Recommender
from cinesync.models.content import ContentRecommender
from cinesync.models.hybrid import Hybrid
from cinesync.models.registry import create
from cinesync.ranking.chunked import rank_chunks

log = logging.getLogger(__name__)

FIELD_SETS: tuple[tuple[str, ...], ...] = (("title", "genres"), ("title", "genres", "overview"),
                                           ("title", "genres", "tags", "overview"))
WEIGHTINGS = ("none", "centered", "liked")
HALF_LIVES = (None, 20.0)
PRIOR_WEIGHTS = (0.0, 0.1, 0.2, 0.5)
EASE_L2 = (50.0, 200.0, 500.0, 1000.0)
CURVES: tuple[dict[str, Any], ...] = (
    *({"curve": "saturating", "k": k} for k in (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)),
    *({"curve": "logistic", "midpoint": m, "slope": s} for m in (2.0, 5.0, 10.0, 20.0) for s in (0.3, 1.0)),
)


def content_grid() -> list[dict[str, Any]]:
    """Every (rating_weight, recency_half_life, popularity_weight) tried on validation, per field set."""
    return [{"rating_weight": w, "recency_half_life": h, "popularity_weight": p}
            for w, h, p in itertools.product(WEIGHTINGS, HALF_LIVES, PRIOR_WEIGHTS)]


def per_user_metrics(top: np.ndarray, targets: Any, ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-user recall@K and ndcg@K (the figures the cold-start tables report)."""
    return ranking_metrics(top, targets, ks, only=("recall", "ndcg"))


def rank_candidates(model: Recommender, queries: cs.CandidateQueries, k: int, progress: bool = False,
                    tie_seed: int | None = 0) -> np.ndarray:
    """(n, k) top-k item indices among ``queries.allowed`` for every query (-1 pads).

    tie_seed: equal scores are ordered by a seeded random item order (None: by item index, which
    follows the data file and is not neutral). A model that cannot tell new items apart (constant
    scores: popularity, EASE) then ranks them like random, as it should.
    """
    m = len(queries.allowed)
    order = None if tie_seed is None else np.random.default_rng(tie_seed).permutation(m)
    return rank_chunks(model.score, queries.history, k, allowed=queries.allowed, tie_order=order, batch_size=1024,
                       progress=progress, desc=f"{model.name} cold items")


def search_content(train: Interactions, field_sets: Sequence[tuple[str, ...]], base: dict[str, Any],
                   ctx: FitContext, score: Callable[[Recommender], dict[str, float]], select: str) -> Search:
    """Validation search over the content grid: one fit (encoding) per field set, score-time options re-used."""
    fitted: dict[tuple[str, ...], ContentRecommender] = {}

    def trial(cfg: dict[str, Any]) -> tuple[None, dict[str, float]]:
        fields = tuple(cfg["fields"])
        if fields not in fitted:
            fitted[fields] = ContentRecommender({**base, "fields": list(fields)}).fit(train, ctx)
        options = {k: v for k, v in cfg.items() if k != "fields"}
        return None, score(fitted[fields].with_config(**options))

    configs = [{"fields": list(fields), **cfg} for fields in field_sets for cfg in content_grid()]
    return search(configs, trial, select, desc="content grid", progress=ctx.progress)


def _pick(found: Search, metric: str, where: Callable[[dict], bool] | None = None) -> dict[str, Any]:
    best = found.best(metric, where)
    log.info("chosen on validation (%s = %.4f): %s", metric,
             max(r[metric] for r in found.records if r["config"] is best), best)
    return best


def _mean(per_user: dict[str, np.ndarray], metric: str, mask: np.ndarray | None = None) -> float:
    v = per_user[metric] if mask is None else per_user[metric][mask]
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


# ---- protocol 1: new items ------------------------------------------------------------
def run_new_items(data: Interactions, ks: Sequence[int] = (10, 20), seed: int = 0, frac: float = 0.1,
                  model_path: str | None = None, cache_dir: str | None = None, progress: bool = False,
                  field_sets: Sequence[tuple[str, ...]] = FIELD_SETS) -> dict[str, Any]:
    """Hold out ``frac`` of the items (and as many for validation); rank only them from training histories."""
    ks, kmax = sorted(ks), max(ks)
    split = cs.new_item_split(data, frac, frac, seed)
    vq, tq = cs.cold_item_queries(split, "valid"), cs.cold_item_queries(split, "test")
    ctx = FitContext(seed=seed, progress=progress)
    base = {"model_path": model_path, "cache_dir": cache_dir}
    sel = f"recall@{kmax}"

    def score(model: Recommender) -> dict[str, float]:
        m = per_user_metrics(rank_candidates(model, vq, kmax, tie_seed=seed), vq.targets, ks)
        return {k: _mean(m, k) for k in m}

    found = search_content(split.train, field_sets, base, ctx, score, sel)
    trace = found.records
    chosen = _pick(found, sel)
    cosine_only = _pick(found, sel, lambda c: c["popularity_weight"] == 0)

    models: dict[str, Recommender] = {
        "content": ContentRecommender({**base, **chosen}).fit(split.train, ctx),
        "content (cosine only, no prior)": ContentRecommender({**base, **cosine_only}).fit(split.train, ctx),
        "pop": create("pop").fit(split.train, ctx),
        "ease": create("ease").fit(split.train, ctx),
        "random (seeded draw)": create("random", {"seed": seed}).fit(split.train, ctx),
    }
    models["hybrid"] = Hybrid.from_parents(models["ease"], models["content"])
    results: dict[str, Any] = {}
    per_user: dict[str, dict[str, np.ndarray]] = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        top = rank_candidates(model, tq, kmax, progress=progress, tie_seed=seed)
        per_user[name] = per_user_metrics(top, tq.targets, ks)
        results[name] = summarise(per_user[name], seed=seed)
        results[name]["seconds"] = round(time.perf_counter() - t0, 2)
    n_rel = np.diff(tq.targets.indptr)
    per_user["random (exact)"] = random_expectation(n_rel, len(split.test_items), ks)
    results["random (exact)"] = summarise(per_user["random (exact)"], seed=seed)
    rnd = results["random (exact)"][sel]["mean"]
    return {
        "protocol": "new-items", "params": split.params, "ks": ks,
        "counts": {"items_held_out": len(split.test_items), "valid_items": len(split.valid_items),
                   "train_interactions": len(split.train), "test_interactions": len(split.test),
                   "test_users": len(tq.users), "users_without_history": tq.dropped_users,
                   "test_items_with_overview": int((split.train.catalog.column("overview")[split.test_items]
                                                    != "").sum())},
        "validation": trace, "chosen_content": chosen, "chosen_cosine_only": cosine_only, "results": results,
        "content_vs_random": results["content"][sel]["mean"] / rnd if rnd > 0 else float("nan"),
    }


# ---- protocol 2: light users ------------------------------------------------------------
def _full_rank(model: Recommender, hist: Any, exclude: Any, kmax: int, ks: Sequence[int], targets: Any,
               progress: bool = False) -> dict[str, np.ndarray]:
    top = rank_chunks(model.score, hist, kmax, exclude=exclude, progress=progress, desc=model.name)
    return per_user_metrics(top, targets, ks)


def run_light_users(data: Interactions, ks: Sequence[int] = (10, 20), seed: int = 0, model_path: str | None = None,
                    cache_dir: str | None = None, progress: bool = False, max_n: int = 5, n_targets: int = 10,
                    field_sets: Sequence[tuple[str, ...]] = FIELD_SETS) -> dict[str, Any]:
    """Simulated light users (n <= ``max_n``) next to regular users; content, EASE, pop, hybrid, random."""
    ks, kmax = sorted(ks), max(ks)
    ls = cs.light_user_split(data, max_n=max_n, n_targets=n_targets, seed=seed)
    split = ls.split
    vh, vt, vx, vu = split.valid_queries()
    th, tt, tx, tu = split.test_queries()
    v_light, t_light = ls.light[vu], ls.light[tu]
    ctx = FitContext(seed=seed, progress=progress)
    base = {"model_path": model_path, "cache_dir": cache_dir}
    sel = f"ndcg@{min(ks)}"
    evaluate: Callable[[Recommender], dict[str, np.ndarray]] = (
        lambda m: _full_rank(m, vh, vx, kmax, ks, vt))

    def score_light(model: Recommender) -> dict[str, float]:
        m = evaluate(model)
        return {sel: _mean(m, sel, v_light), f"{sel} all": _mean(m, sel)}

    def both_groups(model: Recommender) -> tuple[None, dict[str, float]]:
        m = evaluate(model)
        return None, {sel: _mean(m, sel), f"{sel} light": _mean(m, sel, v_light)}

    found = search_content(split.train, field_sets, base, ctx, score_light, sel)
    content_trace = found.records
    content_cfg = _pick(found, sel)  # content is for light users: chosen on light validation users
    found = search([{"l2": l2} for l2 in EASE_L2], lambda c: both_groups(create("ease", c).fit(split.train, ctx)),
                   sel, desc="ease l2")
    ease_trace, ease_cfg = found.records, _pick(found, sel)

    content = ContentRecommender({**base, **content_cfg}).fit(split.train, ctx)
    ease = create("ease", ease_cfg).fit(split.train, ctx)
    found = search(list(CURVES), lambda c: both_groups(Hybrid.from_parents(ease, content, **c)), sel,
                   desc="hybrid curve")
    curve_trace, curve_cfg = found.records, _pick(found, sel)

    models: dict[str, Recommender] = {"content": content, "ease": ease, "hybrid": Hybrid.from_parents(
        ease, content, **curve_cfg), "pop": create("pop").fit(split.train, ctx)}
    groups = {"light": t_light, "regular": ~t_light, "all": np.ones(len(tu), bool)}
    results: dict[str, Any] = {}
    n_cand = split.n_items - np.diff(tx.indptr)
    per_user = {name: _full_rank(m, th, tx, kmax, ks, tt, progress) for name, m in models.items()}
    per_user["random (exact)"] = random_expectation(np.diff(tt.indptr), n_cand, ks)
    for name, pu in per_user.items():
        results[name] = {g: summarise(pu, mask, seed=seed) for g, mask in groups.items()}
    paired = {g: {parent: paired_test(per_user["hybrid"][sel][mask], per_user[parent][sel][mask])
                  for parent in ("ease", "content")} for g, mask in groups.items()}
    return {
        "protocol": "light-users", "params": split.params, "ks": ks,
        "counts": {"test_users": len(tu), "test_light_users": int(t_light.sum()), "valid_users": len(vu),
                   "valid_light_users": int(v_light.sum()), "train_interactions": len(split.train),
                   "light_train_lengths": {str(n): int(((ls.n_train[tu] == n) & t_light).sum())
                                           for n in range(1, max_n + 1)}},
        "validation": {"content": content_trace, "ease": ease_trace, "hybrid": curve_trace},
        "chosen": {"content": content_cfg, "ease": ease_cfg, "hybrid": curve_cfg},
        "results": results, "hybrid_vs_parents": paired,
    }
