"""`cinesync ablation-fusion`: which item-side blocks and which fusion help the two-tower model.

Trains ``twotower`` on one split with each block set (id; id+meta; id+text; id+meta+text; the
content-only meta+text tower) under "sum", then the full id+meta+text set under every other
fusion, and prints valid + test NDCG@10 / Recall@10 (mean and 95 % bootstrap CI over users),
NDCG@10 on the test items with few training interactions ("cold": <= ``--cold-max`` of them),
NDCG@10 when only those cold items are ranked (how well the model orders rarely seen items
among themselves) and fit seconds. The variant to deploy is chosen on validation NDCG@10 only.
Text vectors are the sentence embeddings of ``cinesync.content.embeddings`` (title, genres, tags, TMDB overview),
computed once per run (cached on disk) and passed to every variant that uses them.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import scipy.sparse as sp
import typer
from rich.console import Console
from rich.table import Table

log = logging.getLogger(__name__)
console = Console(soft_wrap=True)

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
DEFAULT_TMDB = "/work/shared/data/tmdb-5000/tmdb_5000_movies.csv.zip"


def _ci(x: np.ndarray) -> dict[str, float]:
    from cinesync.eval.stats import mean_ci

    mean, lo, hi = mean_ci(x)
    return {"mean": mean, "lo": lo, "hi": hi, "n": int(np.isfinite(x).sum())}


def cold_targets(targets: sp.csr_matrix, item_counts: np.ndarray, cold_max: int) -> sp.csr_matrix:
    """(n, n_items) ``targets`` restricted to items with <= ``cold_max`` training interactions."""
    keep = sp.diags((item_counts <= cold_max).astype(np.float64))
    out = sp.csr_matrix(targets @ keep)
    out.eliminate_zeros()
    return out


def new_item_split(split: Any, frac: float, seed: int) -> tuple[Any, np.ndarray]:
    """``split`` with a random ``frac`` of the trained items removed from train and valid (kept in
    test): (that split, (n_items,) bool mask of the new items)."""
    import dataclasses

    counts = split.train.item_counts()
    pool = np.flatnonzero(counts > 0)
    new = np.zeros(split.n_items, bool)
    new[np.random.default_rng(seed).choice(pool, max(1, round(frac * len(pool))), replace=False)] = True
    train, valid = (part.with_rows(~new[part.item]) for part in (split.train, split.valid))
    line = (f"new items: {int(new.sum())} of {len(pool)} trained items removed from train/valid "
            f"({len(split.train) - len(train)} train, {len(split.valid) - len(valid)} valid interactions)")
    log.info(line)
    return dataclasses.replace(split, train=train, valid=valid, name=f"{split.name}+new-items",
                               log=[*split.log, line]), new


def cold_only_ndcg(model: Any, split: Any, part: str, cold_max: int) -> np.ndarray:
    """(n_queries,) NDCG@10 when only cold items (<= ``cold_max`` training interactions) are ranked:
    how well the model orders the rarely seen items among themselves (NaN: no cold target)."""
    from cinesync.eval.metrics import ranking_metrics
    from cinesync.ranking import recommend

    history, targets, exclude, _ = split.valid_queries() if part == "valid" else split.test_queries()
    counts = split.train.item_counts()
    top, _ = recommend(model.score(history), 10, exclude=exclude, allowed=counts <= cold_max)
    return ranking_metrics(top, cold_targets(sp.csr_matrix(targets), counts, cold_max), [10])["ndcg@10"]


def per_user_metrics(model: Any, split: Any, part: str, cold_max: int) -> dict[str, np.ndarray]:
    """{metric: (n_queries,)} on the valid or test queries: ndcg@10, recall@10, cold_ndcg@10 (cold targets
    only, full ranking) and cold_only_ndcg@10 (cold targets, only cold items ranked)."""
    from cinesync.eval.metrics import ranking_metrics
    from cinesync.eval.runner import rank_split

    ranked = rank_split(model, split, part, 10)
    m = ranking_metrics(ranked.top, ranked.targets, [10])
    cold = cold_targets(ranked.targets, split.train.item_counts(), cold_max)
    return {"ndcg@10": m["ndcg@10"], "recall@10": m["recall@10"],
            "cold_ndcg@10": ranking_metrics(ranked.top, cold, [10])["ndcg@10"],
            "cold_only_ndcg@10": cold_only_ndcg(model, split, part, cold_max)}


def run_variant(split: Any, label: str, blocks: list[str], fusion: str, base: dict[str, Any], text: np.ndarray | None,
                seeds: list[int], cold_max: int) -> dict[str, Any]:
    """Fit one variant once per model seed -> a result row: per metric the mean over users of each
    user's seed-averaged value with its 95 % CI over users, and the spread (std) of the seed means."""
    from cinesync.eval.runner import fit_model

    extra = {"item_vectors": text} if "text" in blocks else {}
    config = {**base, "blocks": blocks, "fusion": fusion}
    runs: dict[str, list[dict[str, np.ndarray]]] = {"valid": [], "test": []}
    fit_s, epochs = [], []
    for seed in seeds:
        model, seconds = fit_model("twotower", config, split, seed, extra=extra)
        fit_s.append(seconds)
        epochs.append(getattr(model.train_result_, "best_epoch", None))
        for part in runs:
            runs[part].append(per_user_metrics(model, split, part, cold_max))
    row: dict[str, Any] = {"variant": label, "blocks": blocks, "fusion": fusion, "seeds": seeds,
                           "fit_seconds": float(np.mean(fit_s)), "best_epoch": epochs}
    for part, per_seed in runs.items():
        row[part] = {}
        for metric in per_seed[0]:
            stack = np.stack([r[metric] for r in per_seed])  # (n_seeds, n_queries)
            with warnings.catch_warnings():  # no cold target at all (NaN everywhere) -> NaN, quietly
                warnings.simplefilter("ignore", RuntimeWarning)
                ci = _ci(np.nanmean(stack, axis=0))
                ci["seed_std"] = float(np.std([np.nanmean(r) for r in stack])) if len(seeds) > 1 else 0.0
            row[part][metric] = ci
    log.info("%s: valid ndcg@10 %.4f, test ndcg@10 %.4f, cold test ndcg@10 %.4f / among cold %.4f (fit %.0fs)",
             label, row["valid"]["ndcg@10"]["mean"], row["test"]["ndcg@10"]["mean"],
             row["test"]["cold_ndcg@10"]["mean"], row["test"]["cold_only_ndcg@10"]["mean"], row["fit_seconds"])
    return row


def _fmt(c: dict[str, float]) -> str:
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
        lines.append(f"| {name} | {_fmt(v['ndcg@10'])} | {_fmt(v['recall@10'])} | {_fmt(t['ndcg@10'])} "
                     f"| {_fmt(t['recall@10'])} | {_fmt(t['cold_ndcg@10'])} | {_fmt(t['cold_only_ndcg@10'])} "
                     f"| {r['fit_seconds']:.0f} ({', '.join(map(str, r['best_epoch']))}) |")
    return "\n".join(lines)


def ablation_fusion(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Data set name (see `cinesync data list`).")] =
    "ml-latest-small",
    path: Annotated[str | None, typer.Option("--path", help="Local zip/folder for --dataset.")] = None,
    tmdb_path: Annotated[str | None, typer.Option("--tmdb-path", help="TMDB 5000 movies csv/zip joined for "
                         "overviews and runtimes ('' = none).")] = DEFAULT_TMDB,
    protocol: Annotated[str, typer.Option("--protocol", "-p", help="Split protocol.")] = "recbole-8-1-1",
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated model seeds; each variant is fit once per "
                     "seed and each user's metrics are averaged over them.")] = "0",
    epochs: Annotated[int, typer.Option(help="Training epochs per variant (early stopping on valid).")] = 30,
    patience: Annotated[int, typer.Option(help="Early-stopping patience in epochs.")] = 5,
    cold_max: Annotated[int, typer.Option("--cold-max", help="Test items with at most this many training "
                        "interactions count as cold.")] = 10,
    only: Annotated[str | None, typer.Option("--only", help="Comma-separated variant labels to run (default: all).")]
    = None,
    text_model: Annotated[str | None, typer.Option("--text-model", help="sentence-transformers folder "
                          "(default: the bundled all-MiniLM-L6-v2).")] = None,
    cache_dir: Annotated[str | None, typer.Option("--cache-dir", help="Text embedding cache directory.")] = None,
    sets: Annotated[list[str] | None, typer.Option("--set", help="Fix a two-tower parameter for every variant: "
                    "PARAM=VALUE (JSON value), repeatable.")] = None,
    json_out: Annotated[str | None, typer.Option("--json", help="Write the rows as JSON here.")] = None,
    md_out: Annotated[str | None, typer.Option("--markdown", help="Write the Markdown table here.")] = None,
    cold_start: Annotated[float, typer.Option("--cold-start", help="Also run the new-item experiment: this "
                          "share of the items is removed from train/valid and scored on test (0 = skip).")] = 0.1,
    main: Annotated[bool, typer.Option("--main/--no-main", help="Run the main block/fusion table.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Ablate the two-tower item tower's blocks and fusion; print valid/test metrics with 95 % CIs."""
    from cinesync.cli import _load, _setup_logging
    from cinesync.content.embeddings import item_embeddings
    from cinesync.eval.protocols import make_split

    _setup_logging(verbose)
    variants = VARIANTS
    if only:
        wanted = [s.strip() for s in only.split(",") if s.strip()]
        unknown = sorted(set(wanted) - {v[0] for v in VARIANTS})
        if unknown:
            raise typer.BadParameter(f"--only: unknown variants {unknown}; known: {[v[0] for v in VARIANTS]}")
        variants = [v for v in VARIANTS if v[0] in wanted]
    base: dict[str, Any] = {"epochs": epochs, "patience": patience}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set {item!r}: expected PARAM=VALUE")
        try:
            base[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            base[key.strip()] = value
    data = _load(dataset, path, tmdb_path or None)
    split = make_split(protocol, data, seed=seed)
    text = None
    if any("text" in v[1] for v in variants):
        t0 = time.perf_counter()
        text = item_embeddings(split.train.catalog, model_path=text_model, cache_dir=cache_dir, progress=True)
        log.info("text embeddings %s in %.0fs", text.shape, time.perf_counter() - t0)
    counts = split.train.item_counts()
    log.info("%s %s: %d users, %d items; %d items with <= %d training interactions", data.name, protocol,
             split.n_users, split.n_items, int((counts <= cold_max).sum()), cold_max)
    model_seeds = [int(x) for x in seeds.split(",") if x.strip()]
    if not model_seeds:
        raise typer.BadParameter("--seeds: give at least one seed")
    result: dict[str, Any] = {"dataset": data.name, "protocol": protocol, "seed": seed, "seeds": model_seeds,
                              "config": base, "cold_max": cold_max}
    md: list[str] = []
    if main:
        rows = [run_variant(split, label, blocks, fusion, base, text, model_seeds, cold_max)
                for label, blocks, fusion in variants]
        chosen = max(rows, key=lambda r: r["valid"]["ndcg@10"]["mean"])["variant"]
        _print_main(rows, chosen, f"two-tower fusion ablation: {data.name} {protocol}, split seed {seed}, "
                    f"model seeds {model_seeds} (95 % CI over users; chosen on valid)", cold_max)
        result.update(chosen=chosen, rows=rows)
        md.append(markdown_table(rows, chosen))
    cold_variants = [v for v in variants if v[0] in COLD_START_VARIANTS]
    if cold_start > 0 and cold_variants:
        new_split, new = new_item_split(split, cold_start, seed)
        cold_rows = [run_variant(new_split, label, blocks, fusion, base, text, model_seeds, 0)
                     for label, blocks, fusion in cold_variants]
        _print_cold(cold_rows, f"new items: {int(new.sum())} items ({cold_start:.0%}) unseen in train/valid, "
                    f"{int(new[split.test.item].sum())} of their test interactions")
        result.update(cold_start=cold_start, n_new_items=int(new.sum()), cold_start_rows=cold_rows)
        md.append(cold_markdown(cold_rows))
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2, default=str))
    if md_out:
        Path(md_out).write_text("\n\n".join(md) + "\n")


def _print_main(rows: list[dict[str, Any]], chosen: str, title: str, cold_max: int) -> None:
    table = Table(title=title)
    for col in ("variant", "valid ndcg@10", "valid recall@10", "test ndcg@10", "test recall@10",
                f"cold test ndcg@10 (<= {cold_max})", "test ndcg@10 among cold items", "fit s"):
        table.add_column(col)
    for r in rows:
        v, t = r["valid"], r["test"]
        name = f"[bold]{r['variant']}[/bold]" if r["variant"] == chosen else r["variant"]
        table.add_row(name, _fmt(v["ndcg@10"]), _fmt(v["recall@10"]), _fmt(t["ndcg@10"]), _fmt(t["recall@10"]),
                      _fmt(t["cold_ndcg@10"]), _fmt(t["cold_only_ndcg@10"]), f"{r['fit_seconds']:.0f}")
    console.print(table)
    console.print(f"chosen on validation ndcg@10: {chosen}")


def _print_cold(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for col in ("variant", "test ndcg@10 (all items)", "new-item ndcg@10 (full ranking)",
                "new-item ndcg@10 (among new items)", "fit s"):
        table.add_column(col)
    for r in rows:
        t = r["test"]
        table.add_row(r["variant"], _fmt(t["ndcg@10"]), _fmt(t["cold_ndcg@10"]), _fmt(t["cold_only_ndcg@10"]),
                      f"{r['fit_seconds']:.0f}")
    console.print(table)


def cold_markdown(rows: list[dict[str, Any]]) -> str:
    """The new-item experiment's rows as a Markdown table."""
    lines = ["| variant | test ndcg@10 (all items) | new-item ndcg@10 (full ranking) "
             "| new-item ndcg@10 (among new items) | fit s |", "|---|---|---|---|---|"]
    for r in rows:
        t = r["test"]
        lines.append(f"| {r['variant']} | {_fmt(t['ndcg@10'])} | {_fmt(t['cold_ndcg@10'])} "
                     f"| {_fmt(t['cold_only_ndcg@10'])} | {r['fit_seconds']:.0f} |")
    return "\n".join(lines)


def install(app: typer.Typer) -> None:
    """Add `ablation-fusion` to ``app``."""
    app.command("ablation-fusion")(ablation_fusion)
