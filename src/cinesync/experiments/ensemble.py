"""The ``cinesync ensemble`` experiment: members vs fusions vs the learned ranker on one split.

Members are fitted on train (classical ones tuned on valid); every combiner is fitted on the
validation pool only (valid histories, valid targets) and applied once to the test pool.
Per-user test NDCG@10 / Recall@10 feed bootstrap CIs and paired tests against two references:
the best single member chosen by VALIDATION NDCG@10 (the honest model-selection baseline) and
the strongest member on test (the strictest baseline; it only makes the comparison harder).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cinesync.eval.stats import mean_ci, paired_test
from cinesync.experiments.members import MemberScores, member_scores
from cinesync.metrics import ranking_metrics
from cinesync.metrics.candidates import candidate_metrics, candidate_recall
from cinesync.models.base import FitContext
from cinesync.models.ensemble.augment import augment_for, inner_split, pools_of
from cinesync.models.ensemble.combiner import BASE_SCALE, Pool, apply_combiner, fit_combiner
from cinesync.models.ensemble.features import ItemStats
from cinesync.ranking import topk
from cinesync.ranking.candidates import in_topk

log = logging.getLogger(__name__)
K = 10
#: (row label, combiner kind, context features, inner pools); "ranker" is the default recipe
#: (context chosen on held-out validation users), the other ranker rows are its ablations
VARIANTS = (("rrf", "rrf", True, False), ("weighted", "weighted", True, False), ("adaptive", "adaptive", True, False),
            ("ranker", "ranker", "auto", True), ("ranker (with context)", "ranker", True, True),
            ("ranker (no context)", "ranker", False, True), ("ranker (no inner pools)", "ranker", "auto", False))


@dataclass
class Row:
    """One line of the results table: per-user test metrics and timings."""

    name: str
    kind: str
    ndcg: np.ndarray
    recall: np.ndarray
    valid_ndcg: float
    fit_seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    #: mean member agreement (``Pool.confidence``) of the test top-10 hits and misses
    confidence: dict[str, float] = field(default_factory=dict)


def _member_rows(members: list[MemberScores], split: Any) -> list[Row]:
    _, vt, _, _ = split.valid_queries()
    _, tt, _, _ = split.test_queries()
    rows = []
    for m in members:
        v = ranking_metrics(topk(m.valid, K)[0], vt, [K])[f"ndcg@{K}"]
        t = ranking_metrics(topk(m.test, K)[0], tt, [K])
        rows.append(Row(m.name, "member", t[f"ndcg@{K}"], t[f"recall@{K}"], float(np.nanmean(v)), m.fit_seconds,
                        m.config))
    return rows


def inner_pools(split: Any, scored: list[MemberScores], kind: str, n_candidates: int, seed: int,
                cache_dir: str | None, fit: FitContext | None = None) -> list[tuple[Pool, Any]]:
    """Pools of the inner split of ``split.train`` (``ensemble.augment``): every member refitted with
    its chosen config on the inner train part, scoring the inner valid and inner test queries."""
    inner = inner_split(split.train, kind, seed)
    if inner is None:
        return []
    log.info("inner pools (%s): members refitted on %d of %d training interactions", kind, len(inner.train),
             len(split.train))
    again = [member_scores(inner, m.name, m.config, seed, False, cache_dir, fit) for m in scored]
    return pools_of(inner, lambda which, _h, _ex: [getattr(m, which) for m in again], n_candidates)


def run_ensemble(split: Any, members: list[tuple[str, dict[str, Any]]], n_candidates: int = 100, seed: int = 0,
                 threads: int = 1, cache_dir: str | None = None, tune_classical: bool = True,
                 fit: FitContext | None = None, max_rounds: int = 600, augment: str = "auto",
                 base_scale: float | str = BASE_SCALE, bag: bool = True) -> dict[str, Any]:
    """Fit members, fit every combiner on validation, evaluate on test; returns a JSON-able result.

    augment: inner-split kind for the ranker's extra training queries ("auto" = the one that
    mirrors the protocol, ``augment_for``; "none" = validation queries only). base_scale: the
    ranker's start (``fit_combiner``). bag: the ranker averages its fold models with the final
    one; the "ranker (no bagging)" row is the same fit without them.
    """
    t_all = time.perf_counter()
    scored = [member_scores(split, name, base, seed, tune_classical, cache_dir, fit) for name, base in members]
    kind = augment_for(split) if augment == "auto" else augment
    extra = inner_pools(split, scored, kind, n_candidates, seed, cache_dir, fit)
    stats = ItemStats.from_train(split.train)
    vh, vt, _, _ = split.valid_queries()
    th, tt, _, _ = split.test_queries()
    t0 = time.perf_counter()
    vpool = Pool.build([m.valid for m in scored], vh, stats, n_candidates)
    tpool = Pool.build([m.test for m in scored], th, stats, n_candidates)
    pool_s = time.perf_counter() - t0
    recall = {"valid": candidate_recall(vpool.cands, vt), "test": candidate_recall(tpool.cands, tt),
              "valid_mean_size": float(vpool.cands.sizes.mean()), "test_mean_size": float(tpool.cands.sizes.mean())}
    log.info("candidates: valid recall %.3f (%.0f per user), test recall %.3f", recall["valid"],
             recall["valid_mean_size"], recall["test"])
    rows = _member_rows(scored, split)
    v_targets = np.diff(vt.indptr)
    t_targets = np.diff(tt.indptr)
    v_labels = vpool.cands.labels(vt)
    t_labels = tpool.cands.labels(tt)
    t_conf = tpool.confidence()
    has_time = stats.has_time and th.timestamps is not None
    variants = [v for v in VARIANTS if not ((v[0] in ("ranker (with context)", "ranker (no context)") and not has_time)
                                            or (v[0] == "ranker (no inner pools)" and not extra))]
    fitted: dict[str, tuple[dict[str, Any], float]] = {}
    for label, comb, context, use_inner in sorted(variants, key=lambda v: v[2] == "auto"):  # "auto" rows last
        both = (fitted.get("ranker (with context)"), fitted.get("ranker (no context)"))
        if label == "ranker" and None not in both:
            # what context="auto" trains: both rankers, the one with the better held-out ndcg@10 kept
            # (ties: with context), so the two ablation fits are reused instead of trained again
            (on, on_s), (off, off_s) = both
            fitted[label] = (off if off["holdout_ndcg"] > on["holdout_ndcg"] else on, on_s + off_s)
            continue
        t1 = time.perf_counter()
        state = fit_combiner(comb, vpool, vt, seed=seed, threads=threads, context=context, max_rounds=max_rounds,
                             extra=extra if use_inner else None, base_scale=base_scale, bag=bag)
        fitted[label] = (state, time.perf_counter() - t1)
    if bag and "ranker" in fitted:  # the same ranker without its fold models
        state, fit_s = fitted["ranker"]
        fitted["ranker (no bagging)"] = ({k: v for k, v in state.items() if k != "bag_texts"}, fit_s)
        variants.append(("ranker (no bagging)", "ranker", "auto", True))
    for label, comb, _, _ in variants:
        state, fit_s = fitted[label]
        v = candidate_metrics(vpool.cands, apply_combiner(state, vpool, threads), v_labels, v_targets, K)
        t_values = apply_combiner(state, tpool, threads)
        t = candidate_metrics(tpool.cands, t_values, t_labels, t_targets, K)
        info = {k: (np.asarray(v_).tolist() if isinstance(v_, np.ndarray) else v_)
                for k, v_ in state.items() if k not in ("model_text", "bag_texts")}
        if "model_text" in state:
            info["model_sha256"] = hashlib.sha256("\n".join([state["model_text"], *state.get("bag_texts", [])])
                                                  .encode()).hexdigest()
            info["bagged_models"] = len(state.get("bag_texts", []))
        top = in_topk(tpool.cands, t_values, K)
        hits, misses = top & (t_labels > 0), top & (t_labels == 0)
        conf = {"top10_hits": float(t_conf[hits].mean()) if hits.any() else float("nan"),
                "top10_misses": float(t_conf[misses].mean()) if misses.any() else float("nan")}
        rows.append(Row(label, comb, t[f"ndcg@{K}"], t[f"recall@{K}"], float(np.nanmean(v[f"ndcg@{K}"])), fit_s,
                        info, conf))
        log.info("%s: valid ndcg@%d=%.4f (in-sample for the tuned fusions), test ndcg@%d=%.4f (fit %.1fs)",
                 label, K, np.nanmean(v[f"ndcg@{K}"]), K, np.nanmean(t[f"ndcg@{K}"]), fit_s)
    member_rows = [r for r in rows if r.kind == "member"]
    best = max(member_rows, key=lambda r: r.valid_ndcg)
    strongest = max(member_rows, key=lambda r: float(np.nanmean(r.ndcg)))
    table = [_table_row(r, best, strongest, seed) for r in rows]
    by_name = {r.name: r for r in rows}
    ablation, inner_ablation, bag_ablation = None, None, None
    if "ranker (no bagging)" in by_name:
        bagged, single = by_name["ranker"], by_name["ranker (no bagging)"]
        bag_ablation = {"ndcg@10_with": float(np.nanmean(bagged.ndcg)),
                        "ndcg@10_without": float(np.nanmean(single.ndcg)), **paired_test(bagged.ndcg, single.ndcg)}
    if "ranker (no inner pools)" in by_name:
        with_inner, without = by_name["ranker"], by_name["ranker (no inner pools)"]
        inner_ablation = {"ndcg@10_with": float(np.nanmean(with_inner.ndcg)),
                          "ndcg@10_without": float(np.nanmean(without.ndcg)),
                          **paired_test(with_inner.ndcg, without.ndcg)}
    if "ranker (no context)" in by_name:
        with_ctx, without = by_name["ranker (with context)"], by_name["ranker (no context)"]
        ablation = {"ndcg@10_with": float(np.nanmean(with_ctx.ndcg)),
                    "ndcg@10_without": float(np.nanmean(without.ndcg)), **paired_test(with_ctx.ndcg, without.ndcg)}
    return {"protocol": split.name, "seed": seed, "n_candidates": n_candidates,
            "members": [{"name": m.name, "config": m.config, "fit_seconds": m.fit_seconds, "cached": m.cached}
                        for m in scored],
            "best_single": best.name, "strongest_member_on_test": strongest.name, "candidate_recall": recall,
            "pool_seconds": pool_s, "context_ablation": ablation, "augment": kind, "base_scale": base_scale,
            "base_scale_chosen": by_name["ranker"].config.get("base_scale") if "ranker" in by_name else None,
            "inner_pools": [{"queries": len(p.cands), "candidates": int(p.cands.indptr[-1])} for p, _ in extra],
            "inner_ablation": inner_ablation, "bag_ablation": bag_ablation, "bag": bag,
            "n_valid_users": len(vh), "n_test_users": len(th), "table": table,
            "total_seconds": time.perf_counter() - t_all}


def _table_row(r: Row, best: Row, strongest: Row, seed: int) -> dict[str, Any]:
    """Means with bootstrap CIs, and paired tests vs the best member by valid and the strongest on test."""
    nd, rc = mean_ci(r.ndcg, seed=seed), mean_ci(r.recall, seed=seed)
    out: dict[str, Any] = {"name": r.name, "kind": r.kind, "ndcg@10": nd[0], "ndcg@10_ci": [nd[1], nd[2]],
                           "recall@10": rc[0], "recall@10_ci": [rc[1], rc[2]], "valid_ndcg@10": r.valid_ndcg}
    for label, ref in (("best", best), ("strongest", strongest)):
        test = paired_test(r.ndcg, ref.ndcg) if r is not ref else {"wilcoxon_p": float("nan"),
                                                                     "ttest_p": float("nan")}
        out[f"gain_vs_{label}_pct"] = 100.0 * (nd[0] / float(np.nanmean(ref.ndcg)) - 1.0)
        out[f"wilcoxon_p_vs_{label}"] = test["wilcoxon_p"]
        out[f"ttest_p_vs_{label}"] = test["ttest_p"]
    out.update(fit_seconds=r.fit_seconds, config=r.config, confidence=r.confidence)
    return out
