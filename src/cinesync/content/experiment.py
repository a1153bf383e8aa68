"""The cold-start experiment behind ``cinesync coldstart``: both protocols of ``cinesync.eval.coldstart``.

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
from tqdm.auto import tqdm

from cinesync.data.dataset import Interactions
from cinesync.eval import coldstart as cs
from cinesync.eval.runner import rank_queries
from cinesync.eval.stats import paired_test
from cinesync.models.base import FitContext, Recommender
from cinesync.models.content import ContentRecommender
from cinesync.models.hybrid import Hybrid
from cinesync.models.registry import create

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


def search_content(train: Interactions, field_sets: Sequence[tuple[str, ...]], base: dict[str, Any],
                   ctx: FitContext, score: Callable[[Recommender], dict[str, float]]) -> list[dict[str, Any]]:
    """Validation trace of the content grid: one fit (encoding) per field set, score-time options re-used."""
    trace = []
    for fields in field_sets:
        fitted = ContentRecommender({**base, "fields": list(fields)}).fit(train, ctx)
        for cfg in tqdm(content_grid(), desc=f"content grid ({'+'.join(fields)})", disable=not ctx.progress,
                        leave=False):
            trace.append({"config": {"fields": list(fields), **cfg}, **score(fitted.with_config(**cfg))})
    return trace


def _pick(trace: list[dict[str, Any]], metric: str, where: Callable[[dict], bool] | None = None) -> dict[str, Any]:
    best = max((r for r in trace if where is None or where(r["config"])), key=lambda r: r[metric])
    log.info("chosen on validation (%s = %.4f): %s", metric, best[metric], best["config"])
    return best["config"]


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
        m = cs.per_user_metrics(cs.rank_candidates(model, vq, kmax, tie_seed=seed), vq.targets, ks)
        return {k: _mean(m, k) for k in m}

    trace = search_content(split.train, field_sets, base, ctx, score)
    chosen = _pick(trace, sel)
    cosine_only = _pick(trace, sel, lambda c: c["popularity_weight"] == 0)

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
        top = cs.rank_candidates(model, tq, kmax, progress=progress, tie_seed=seed)
        per_user[name] = cs.per_user_metrics(top, tq.targets, ks)
        results[name] = cs.summarise(per_user[name], seed=seed)
        results[name]["seconds"] = round(time.perf_counter() - t0, 2)
    n_rel = np.diff(tq.targets.indptr)
    per_user["random (exact)"] = cs.random_expectation(n_rel, len(split.test_items), ks)
    results["random (exact)"] = cs.summarise(per_user["random (exact)"], seed=seed)
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
    top = rank_queries(model, hist, exclude, kmax, progress=progress, desc=model.name)
    return cs.per_user_metrics(top, targets, ks)


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

    content_trace = search_content(split.train, field_sets, base, ctx, score_light)
    content_cfg = _pick(content_trace, sel)  # content is for light users: chosen on light validation users
    ease_trace = []
    for l2 in EASE_L2:
        m = evaluate(create("ease", {"l2": l2}).fit(split.train, ctx))
        ease_trace.append({"config": {"l2": l2}, sel: _mean(m, sel), f"{sel} light": _mean(m, sel, v_light)})
    ease_cfg = _pick(ease_trace, sel)

    content = ContentRecommender({**base, **content_cfg}).fit(split.train, ctx)
    ease = create("ease", ease_cfg).fit(split.train, ctx)
    curve_trace = []
    for curve in CURVES:
        m = evaluate(Hybrid.from_parents(ease, content, **curve))
        curve_trace.append({"config": curve, sel: _mean(m, sel), f"{sel} light": _mean(m, sel, v_light)})
    curve_cfg = _pick(curve_trace, sel)

    models: dict[str, Recommender] = {"content": content, "ease": ease, "hybrid": Hybrid.from_parents(
        ease, content, **curve_cfg), "pop": create("pop").fit(split.train, ctx)}
    groups = {"light": t_light, "regular": ~t_light, "all": np.ones(len(tu), bool)}
    results: dict[str, Any] = {}
    n_cand = split.n_items - np.diff(tx.indptr)
    per_user = {name: _full_rank(m, th, tx, kmax, ks, tt, progress) for name, m in models.items()}
    per_user["random (exact)"] = cs.random_expectation(np.diff(tt.indptr), n_cand, ks)
    for name, pu in per_user.items():
        results[name] = {g: cs.summarise(pu, mask, seed=seed) for g, mask in groups.items()}
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
