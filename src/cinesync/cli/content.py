"""Content commands: ``cinesync embed`` (item text embeddings, cached) and ``cinesync coldstart`` (the
new-item and light-user protocols). ``install(app)`` adds them to the main command line.

This module reads the environment (CINESYNC_HOME, CINESYNC_TMDB_PATH) and passes plain paths on.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cinesync.cli.common import (
    DatasetOpt,
    PathOpt,
    ProgressOpt,
    VerboseOpt,
    console,
    expected_errors,
    load_data,
    setup_logging,
    shared_data,
)
from cinesync.errors import ConfigError

TmdbOpt = Annotated[str | None, typer.Option("--tmdb-path", help="TMDB 5000 movies csv/zip for plot overviews "
                    "(default: $CINESYNC_TMDB_PATH, else shared/data/tmdb-5000/ next to the checkout).")]
NoTmdbOpt = Annotated[bool, typer.Option("--no-tmdb", help="Do not join TMDB overviews (texts = title, genres, "
                      "tags only).")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="State directory (default: $CINESYNC_HOME or "
                    "~/.cinesync); embeddings are cached in HOME/cache/embeddings.")]
CacheOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Embedding cache directory (overrides --home).")]
ModelOpt = Annotated[str | None, typer.Option("--model-path", help="Local sentence-transformers model folder "
                     "(default: the packaged all-MiniLM-L6-v2).")]


def _cache_dir(home: Path | None, cache_dir: Path | None) -> str:
    from cinesync.content.embeddings import default_cache_dir

    if cache_dir is not None:
        return str(cache_dir.expanduser())
    return str(default_cache_dir(home if home is not None else os.environ.get("CINESYNC_HOME")))


TMDB_FILE = ("tmdb-5000", "tmdb_5000_movies.csv.zip")


def resolve_tmdb(tmdb_path: str | None, no_tmdb: bool = False) -> str | None:
    """The TMDB overviews file: --tmdb-path, else $CINESYNC_TMDB_PATH, else the shared copy next to the
    checkout; None with --no-tmdb."""
    if no_tmdb:
        return None
    shared = shared_data(*TMDB_FILE)
    for cand in (tmdb_path, os.environ.get("CINESYNC_TMDB_PATH"), str(shared) if shared else None):
        if cand:
            if Path(cand).expanduser().exists():
                return str(Path(cand).expanduser())
            if cand == tmdb_path:
                raise ConfigError(f"--tmdb-path {tmdb_path}: no such file")
    raise ConfigError("no TMDB overviews found: pass --tmdb-path tmdb_5000_movies.csv.zip, set CINESYNC_TMDB_PATH, "
                      "or use --no-tmdb")


def embed(dataset: DatasetOpt = "ml-latest-small", path: PathOpt = None, tmdb_path: TmdbOpt = None,
          no_tmdb: NoTmdbOpt = False, home: HomeOpt = None, cache_dir: CacheOpt = None, model_path: ModelOpt = None,
          batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Encoding batch size.")] = 64,
          progress: ProgressOpt = True, verbose: VerboseOpt = False) -> None:
    """Compute (or read from the cache) every item's text embedding; print cache stats.

    Text per item = title + genres + tags + TMDB overview. Only texts not yet
    in the cache are encoded.
    """
    from cinesync.content.embeddings import cache_file, encode_texts, item_texts

    setup_logging(verbose)

    def go() -> None:
        cdir = _cache_dir(home, cache_dir)
        data = load_data(dataset, path, resolve_tmdb(tmdb_path, no_tmdb))
        texts = item_texts(data.catalog)
        stats: dict[str, int] = {}
        t0 = time.perf_counter()
        vecs = encode_texts(texts, model_path, cdir, batch_size, progress, stats)
        with_overview = int((data.catalog.column("overview") != "").sum())
        console.print(f"{data.name}: {stats['texts']:,} items ({with_overview:,} with an overview) -> "
                      f"{vecs.shape[1]}-d embeddings in {time.perf_counter() - t0:.1f}s; {stats['cached']:,} from "
                      f"the cache, {stats['encoded']:,} encoded; cache {cache_file(model_path, cdir)}")
    with expected_errors():
        go()


def _fmt(cell: dict[str, float]) -> str:
    return f"{cell['mean']:.4f} [{cell['lo']:.4f}, {cell['hi']:.4f}]"


def _table(title: str, rows: dict[str, dict[str, Any]], metrics: list[str]) -> Table:
    t = Table(title=title)
    t.add_column("model")
    for m in metrics:
        t.add_column(f"{m} (95 % CI)", justify="right")
    for name, res in rows.items():
        t.add_row(name, *[_fmt(res[m]) for m in metrics])
    return t


def coldstart(dataset: DatasetOpt = "ml-latest-small", path: PathOpt = None, tmdb_path: TmdbOpt = None,
              no_tmdb: NoTmdbOpt = False, home: HomeOpt = None, cache_dir: CacheOpt = None,
              model_path: ModelOpt = None,
              protocol: Annotated[str, typer.Option("--protocol", help="new-items, light-users or both.")] = "both",
              field_set: Annotated[list[str] | None, typer.Option("--field-set", help="Comma-separated text fields "
                                   "tried on validation, e.g. title,genres,overview (repeatable; default: "
                                   "title,genres / +overview / +tags+overview).")] = None,
              seed: Annotated[int, typer.Option("--seed", help="Seed of the held-out items / users.")] = 0,
              json_out: Annotated[Path | None, typer.Option("--json", help="Write all results to this file.")] = None,
              progress: ProgressOpt = True, verbose: VerboseOpt = False) -> None:
    """Cold-start evaluation: brand-new items and light users (docs/content.md).

    new-items: a seeded 10 % of the items is held out entirely (another
    10 % for validation, their user tags removed too); models trained on
    the rest rank ONLY the held-out items for every user who interacted
    with them. Rows: content (text embeddings), random (exact expectation
    and a seeded draw), pop and EASE (they cannot score unseen items: ties
    are broken at random) and the hybrid.

    light-users: a seeded half of the users keeps only its first 1..5
    interactions (time order) and is asked for the next 10; the others
    keep all but their last 10. Content, EASE, pop, hybrid and random,
    reported for light, regular and all test users.

    Every choice (text fields, weighting, popularity prior, EASE l2,
    hybrid curve) is made on validation items / users. Recall@10,
    Recall@20 and NDCG@10 with bootstrap 95 % CIs.
    """
    from cinesync.experiments.coldstart import FIELD_SETS, run_light_users, run_new_items

    setup_logging(verbose)
    if protocol not in ("new-items", "light-users", "both"):
        raise typer.BadParameter(f"--protocol must be new-items, light-users or both, got {protocol!r}")
    sets = tuple(tuple(f.strip() for f in s.split(",") if f.strip()) for s in field_set) if field_set else FIELD_SETS

    def go() -> None:
        cdir = _cache_dir(home, cache_dir)
        data = load_data(dataset, path, resolve_tmdb(tmdb_path, no_tmdb))
        out: dict[str, Any] = {"dataset": data.name, "seed": seed}
        metrics = ["recall@10", "recall@20", "ndcg@10"]
        if protocol in ("new-items", "both"):
            res = run_new_items(data, (10, 20), seed, 0.1, model_path, cdir, progress, sets)
            out["new_items"] = res
            c = res["counts"]
            console.print(_table(f"New items: rank only the {c['items_held_out']:,} held-out items "
                                 f"({c['test_users']:,} users)", res["results"], metrics))
            console.print(f"content chosen on validation items: {res['chosen_content']}; content / random "
                          f"Recall@20 = {res['content_vs_random']:.1f}x")
        if protocol in ("light-users", "both"):
            res = run_light_users(data, (10, 20), seed, model_path, cdir, progress, field_sets=sets)
            out["light_users"] = res
            c = res["counts"]
            for group in ("light", "regular", "all"):
                rows = {name: r[group] for name, r in res["results"].items()}
                n = rows["content"]["ndcg@10"]["n"]
                console.print(_table(f"Light-user protocol, {group} test users ({n:,})", rows, metrics))
            for group, tests in res["hybrid_vs_parents"].items():
                console.print(f"hybrid vs parents, {group} users, NDCG@10: " + "; ".join(
                    f"{p}: diff {t['mean_diff']:+.4f} (Wilcoxon p = {t['wilcoxon_p']:.3g})" for p, t in tests.items()))
            console.print(f"chosen on validation users: {res['chosen']}")
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(out, indent=2, default=str))
            console.print(f"wrote {json_out}")
    with expected_errors():
        go()


def install(app: typer.Typer) -> None:
    """Add `embed` and `coldstart` to ``app``."""
    app.command("embed")(embed)
    app.command("coldstart")(coldstart)
