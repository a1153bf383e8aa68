"""`cinesync ablation-fusion`: which item-side blocks and which fusion help the two-tower model
(the experiment is ``cinesync.experiments.fusion_ablation``). ``install(app)`` adds the command.

Text vectors are the sentence embeddings of ``cinesync.content.embeddings`` (title, genres, tags,
TMDB overview), computed once per run (cached on disk) and passed to every variant that uses them.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cinesync.cli.common import console, expected_errors, load_data, parse_params, setup_logging, threads_from_env
from cinesync.cli.content import resolve_tmdb

log = logging.getLogger(__name__)

def ablation_fusion(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Data set name (see `cinesync data list`).")] =
    "ml-latest-small",
    path: Annotated[str | None, typer.Option("--path", help="Local zip/folder for --dataset.")] = None,
    tmdb_path: Annotated[str | None, typer.Option("--tmdb-path", help="TMDB 5000 movies csv/zip joined for "
                         "overviews and runtimes (default: $CINESYNC_TMDB_PATH, else the shared copy next to the "
                         "checkout; '' = none).")] = None,
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
    from cinesync.content.embeddings import item_embeddings
    from cinesync.data.coldstart import with_new_items
    from cinesync.data.protocols import make_split
    from cinesync.errors import CineSyncError
    from cinesync.experiments.fusion_ablation import (
        COLD_START_VARIANTS,
        VARIANTS,
        cold_markdown,
        markdown_table,
        run_variant,
    )
    from cinesync.models.registry import model_class

    setup_logging(verbose)
    variants = VARIANTS
    if only:
        wanted = [s.strip() for s in only.split(",") if s.strip()]
        unknown = sorted(set(wanted) - {v[0] for v in VARIANTS})
        if unknown:
            raise typer.BadParameter(f"--only: unknown variants {unknown}; known: {[v[0] for v in VARIANTS]}")
        variants = [v for v in VARIANTS if v[0] in wanted]
    base: dict[str, Any] = {"epochs": epochs, "patience": patience, **parse_params(sets or [])}
    try:  # a typo in --set fails here, before the data loads and the text is encoded
        model_class("twotower")({**base, "blocks": ["id"], "fusion": "sum"})
    except CineSyncError as e:
        raise typer.BadParameter(f"--set: {e}") from None
    threads = threads_from_env()
    model_seeds = [int(x) for x in seeds.split(",") if x.strip()]
    if not model_seeds:
        raise typer.BadParameter("--seeds: give at least one seed")
    with expected_errors():
        data = load_data(dataset, path, resolve_tmdb(tmdb_path, no_tmdb=tmdb_path == ""))
        split = make_split(protocol, data, seed=seed)
        text = None
        if any("text" in v[1] for v in variants):
            t0 = time.perf_counter()
            text = item_embeddings(split.train.catalog, model_path=text_model, cache_dir=cache_dir, progress=True)
            log.info("text embeddings %s in %.0fs", text.shape, time.perf_counter() - t0)
        counts = split.train.item_counts()
        log.info("%s %s: %d users, %d items; %d items with <= %d training interactions", data.name, protocol,
                 split.n_users, split.n_items, int((counts <= cold_max).sum()), cold_max)
        result: dict[str, Any] = {"dataset": data.name, "protocol": protocol, "seed": seed, "seeds": model_seeds,
                                  "config": base, "cold_max": cold_max}
        md: list[str] = []
        if main:
            rows = [run_variant(split, label, blocks, fusion, base, text, model_seeds, cold_max, threads)
                    for label, blocks, fusion in variants]
            chosen = max(rows, key=lambda r: r["valid"]["ndcg@10"]["mean"])["variant"]
            _print_main(rows, chosen, f"two-tower fusion ablation: {data.name} {protocol}, split seed {seed}, "
                        f"model seeds {model_seeds} (95 % CI over users; chosen on valid)", cold_max)
            result.update(chosen=chosen, rows=rows)
            md.append(markdown_table(rows, chosen))
        cold_variants = [v for v in variants if v[0] in COLD_START_VARIANTS]
        if cold_start > 0 and cold_variants:
            new_split, new = with_new_items(split, cold_start, seed)
            cold_rows = [run_variant(new_split, label, blocks, fusion, base, text, model_seeds, 0, threads)
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
    from cinesync.experiments.fusion_ablation import cell

    table = Table(title=title)
    for col in ("variant", "valid ndcg@10", "valid recall@10", "test ndcg@10", "test recall@10",
                f"cold test ndcg@10 (<= {cold_max})", "test ndcg@10 among cold items", "fit s"):
        table.add_column(col)
    for r in rows:
        v, t = r["valid"], r["test"]
        name = f"[bold]{r['variant']}[/bold]" if r["variant"] == chosen else r["variant"]
        table.add_row(name, cell(v["ndcg@10"]), cell(v["recall@10"]), cell(t["ndcg@10"]), cell(t["recall@10"]),
                      cell(t["cold_ndcg@10"]), cell(t["cold_only_ndcg@10"]), f"{r['fit_seconds']:.0f}")
    console.print(table)
    console.print(f"chosen on validation ndcg@10: {chosen}")


def _print_cold(rows: list[dict[str, Any]], title: str) -> None:
    from cinesync.experiments.fusion_ablation import cell

    table = Table(title=title)
    for col in ("variant", "test ndcg@10 (all items)", "new-item ndcg@10 (full ranking)",
                "new-item ndcg@10 (among new items)", "fit s"):
        table.add_column(col)
    for r in rows:
        t = r["test"]
        table.add_row(r["variant"], cell(t["ndcg@10"]), cell(t["cold_ndcg@10"]), cell(t["cold_only_ndcg@10"]),
                      f"{r['fit_seconds']:.0f}")
    console.print(table)


def install(app: typer.Typer) -> None:
    """Add `ablation-fusion` to ``app``."""
    app.command("ablation-fusion")(ablation_fusion)
