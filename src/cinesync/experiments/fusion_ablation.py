"""The two-tower fusion ablation behind ``cinesync ablation-fusion``: which item-side blocks and
which fusion help.

Trains ``twotower`` on one split with each block set (id; id+meta; id+text; id+meta+text; the
content-only meta+text tower) under "sum", then the full id+meta+text set under every other
fusion, and reports valid + test NDCG@10 / Recall@10 (mean and 95 % bootstrap CI over users),
NDCG@10 on the test items with few training interactions ("cold": <= ``cold_max`` of them),
NDCG@10 when only those cold items are ranked (how well the model orders rarely seen items
among themselves) and fit seconds. The variant to deploy is chosen on validation NDCG@10 only.
The new-item variant (``cinesync.data.coldstart.with_new_items``) removes a share of the items
from train and valid and scores them on test.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinesync.eval.runner import fit_model, rank_split
from cinesync.eval.stats import summary
from cinesync.metrics import ranking_metrics
from cinesync.models.base import FitContext
from cinesync.ranking.chunked import rank_chunks

log = logging.getLogger(__name__)

#: (label, blocks, fusion): every block set under "sum", then every fusion on the full set
VARIANTS: list[tuple[str, list[str], str]] = [
    ("id", ["id"], "sum"),
    ("id+meta", ["id", "meta"], "sum"),
    ("id+text", ["id", "text"], "sum"),
    ("id+meta+text", ["id", "meta", "text"], "sum"),
    ("meta+text (content only)", ["meta", "text"], "sum"),
    ("id+meta+text concat", ["id", "meta", "text"], "concat"),
    ("id+meta+text gate", ["id", "meta", "text"], "gate"),
    ("id+meta+text attention", ["id", "meta", "text"], "attention"),
]
#: variants of the new-item (cold-start) experiment
COLD_START_VARIANTS = ("id", "id+meta+text", "meta+text (content only)")


def cold_targets(targets: sp.csr_matrix, item_counts: np.ndarray, cold_max: int) -> sp.csr_matrix:
    """(n, n_items) ``targets`` restricted to items with <= ``cold_max`` training interactions."""
    keep = sp.diags((item_counts <= cold_max).astype(np.float64))
    out = sp.csr_matrix(targets @ keep)
    out.eliminate_zeros()
    return out


def cold_only_ndcg(model: Any, split: Any, part: str, cold_max: int) -> np.ndarray:
    """(n_queries,) NDCG@10 when only cold items (<= ``cold_max`` training interactions) are ranked:
    how well the model orders the rarely seen items among themselves (NaN: no cold target)."""
    history, targets, exclude, _ = split.valid_queries() if part == "valid" else split.test_queries()
    counts = split.train.item_counts()
    top = rank_chunks(model.score, history, 10, exclude=exclude, allowed=counts <= cold_max)
    return ranking_metrics(top, cold_targets(sp.csr_matrix(targets), counts, cold_max), [10])["ndcg@10"]


def variant_metrics(model: Any, split: Any, part: str, cold_max: int) -> dict[str, np.ndarray]:
    """{metric: (n_queries,)} on the valid or test queries: ndcg@10, recall@10, cold_ndcg@10 (cold targets
    only, full ranking) and cold_only_ndcg@10 (cold targets, only cold items ranked)."""
    ranked = rank_split(model, split, part, 10)
    m = ranking_metrics(ranked.top, ranked.targets, [10])
    cold = cold_targets(ranked.targets, split.train.item_counts(), cold_max)
    return {"ndcg@10": m["ndcg@10"], "recall@10": m["recall@10"],
            "cold_ndcg@10": ranking_metrics(ranked.top, cold, [10])["ndcg@10"],
            "cold_only_ndcg@10": cold_only_ndcg(model, split, part, cold_max)}


def run_variant(split: Any, label: str, blocks: list[str], fusion: str, base: dict[str, Any], text: np.ndarray | None,
                seeds: list[int], cold_max: int, threads: int | None = None) -> dict[str, Any]:
    """Fit one variant once per model seed -> a result row: per metric the mean over users of each
    user's seed-averaged value with its 95 % CI over users, and the spread (std) of the seed means."""
    ctx = FitContext(item_vectors=text if "text" in blocks else None, threads=threads)
    config = {**base, "blocks": blocks, "fusion": fusion}
    runs: dict[str, list[dict[str, np.ndarray]]] = {"valid": [], "test": []}
    fit_s, epochs = [], []
    for seed in seeds:
        model, seconds = fit_model("twotower", config, split, seed, ctx)
        fit_s.append(seconds)
        epochs.append(getattr(model.train_result_, "best_epoch", None))
        for part in runs:
            runs[part].append(variant_metrics(model, split, part, cold_max))
    row: dict[str, Any] = {"variant": label, "blocks": blocks, "fusion": fusion, "seeds": seeds,
                           "fit_seconds": float(np.mean(fit_s)), "best_epoch": epochs}
    for part, per_seed in runs.items():
        row[part] = {}
        for metric in per_seed[0]:
            stack = np.stack([r[metric] for r in per_seed])  # (n_seeds, n_queries)
            with warnings.catch_warnings():  # no cold target at all (NaN everywhere) -> NaN, quietly
                warnings.simplefilter("ignore", RuntimeWarning)
                ci = summary(np.nanmean(stack, axis=0))
                ci["seed_std"] = float(np.std([np.nanmean(r) for r in stack])) if len(seeds) > 1 else 0.0
            row[part][metric] = ci
    log.info("%s: valid ndcg@10 %.4f, test ndcg@10 %.4f, cold test ndcg@10 %.4f / among cold %.4f (fit %.0fs)",
             label, row["valid"]["ndcg@10"]["mean"], row["test"]["ndcg@10"]["mean"],
             row["test"]["cold_ndcg@10"]["mean"], row["test"]["cold_only_ndcg@10"]["mean"], row["fit_seconds"])
    return row


def cell(c: dict[str, float]) -> str:
    spread = f" ±{c['seed_std']:.4f}" if c.get("seed_std") else ""
    return f"{c['mean']:.4f} [{c['lo']:.4f}, {c['hi']:.4f}]{spread}"


def markdown_table(rows: list[dict[str, Any]], chosen: str) -> str:
    """The result rows as a Markdown table (the validation choice in bold)."""
    head = ("| variant | valid ndcg@10 | valid recall@10 | test ndcg@10 | test recall@10 | cold test ndcg@10 "
            "| test ndcg@10 among cold items | fit s (best epoch) |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        name = f"**{r['variant']}**" if r["variant"] == chosen else r["variant"]
        v, t = r["valid"], r["test"]
        lines.append(f"| {name} | {cell(v['ndcg@10'])} | {cell(v['recall@10'])} | {cell(t['ndcg@10'])} "
                     f"| {cell(t['recall@10'])} | {cell(t['cold_ndcg@10'])} | {cell(t['cold_only_ndcg@10'])} "
                     f"| {r['fit_seconds']:.0f} ({', '.join(map(str, r['best_epoch']))}) |")
    return "\n".join(lines)


def cold_markdown(rows: list[dict[str, Any]]) -> str:
    """The new-item experiment's rows as a Markdown table."""
    lines = ["| variant | test ndcg@10 (all items) | new-item ndcg@10 (full ranking) "
             "| new-item ndcg@10 (among new items) | fit s |", "|---|---|---|---|---|"]
    for r in rows:
        t = r["test"]
        lines.append(f"| {r['variant']} | {cell(t['ndcg@10'])} | {cell(t['cold_ndcg@10'])} "
                     f"| {cell(t['cold_only_ndcg@10'])} | {r['fit_seconds']:.0f} |")
    return "\n".join(lines)
