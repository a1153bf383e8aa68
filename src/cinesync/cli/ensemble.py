"""``cinesync ensemble``: members vs fusions vs the learned ranker on one protocol. ``install(app)`` adds it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cinesync.cli.common import expected_errors, parse_model_params, parse_models, setup_logging, threads_from_env
from cinesync.models.base import FitContext

#: the results table is wide: 200 columns even when piped
console = Console(soft_wrap=True, width=200)
DEFAULT_CACHE = Path.home() / ".cache" / "cinesync" / "ensemble"


def _members(spec: str, sets: list[str]) -> list[tuple[str, dict[str, Any]]]:
    names = parse_models(spec) if spec.strip() else []
    if not names:
        raise typer.BadParameter("--members needs at least one model name")
    configs = parse_model_params(sets, names, among="--members")
    return [(n, configs.get(n, {})) for n in names]


def _print(result: dict[str, Any]) -> None:
    t = Table(title=f"{result['protocol']} (seed {result['seed']}): test metrics; best single by valid = "
                    f"{result['best_single']}, strongest member on test = {result['strongest_member_on_test']}")
    for col in ("model", "NDCG@10 [95% CI]", "Recall@10 [95% CI]", "valid NDCG@10*", "vs best(valid)", "p",
                "vs strongest(test)", "p", "fit s"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in result["table"]:
        name = r["name"] + (" (best single)" if r["name"] == result["best_single"] and r["kind"] == "member" else "")
        t.add_row(name, f"{r['ndcg@10']:.4f} [{r['ndcg@10_ci'][0]:.4f}, {r['ndcg@10_ci'][1]:.4f}]",
                  f"{r['recall@10']:.4f} [{r['recall@10_ci'][0]:.4f}, {r['recall@10_ci'][1]:.4f}]",
                  f"{r['valid_ndcg@10']:.4f}", f"{r['gain_vs_best_pct']:+.1f}%", f"{r['wilcoxon_p_vs_best']:.2g}",
                  f"{r['gain_vs_strongest_pct']:+.1f}%", f"{r['wilcoxon_p_vs_strongest']:.2g}",
                  f"{r['fit_seconds']:.1f}")
    console.print(t)
    console.print("p = Wilcoxon signed-rank over test users (paired). *valid NDCG@10 of tuned fusions and the "
                  "ranker is in-sample (they were fitted on validation).")
    ranker = next((r for r in result["table"] if r["name"] == "ranker"), None)
    if ranker and ranker.get("confidence"):
        c = ranker["confidence"]
        console.print(f"member agreement (confidence) of the ranker's test top-10: hits {c['top10_hits']:.3f}, "
                      f"misses {c['top10_misses']:.3f}")
    if ranker and "holdout_ndcg" in ranker.get("config", {}):
        c = ranker["config"]
        console.print(f"ranker chosen on held-out validation users: ndcg@10 {c['holdout_ndcg']:.4f} over candidates "
                      f"(base scale {c.get('base_scale')}, context {'on' if c.get('context') else 'off'}, "
                      f"{c.get('rounds')} rounds, {c.get('n_queries')} training queries); compare settings here, "
                      "never on test")
    ab = result.get("context_ablation")
    if ab:
        console.print(f"context features (ranker with vs without): NDCG@10 {ab['ndcg@10_with']:.4f} vs "
                      f"{ab['ndcg@10_without']:.4f}, Wilcoxon p={ab['wilcoxon_p']:.2g}, n={ab['n']} users")
    inner = result.get("inner_ablation")
    if inner:
        n_inner = sum(p["queries"] for p in result.get("inner_pools", []))
        console.print(f"inner pools ({result['augment']}, {n_inner} inner queries): ranker NDCG@10 "
                      f"{inner['ndcg@10_with']:.4f} with vs {inner['ndcg@10_without']:.4f} without, "
                      f"Wilcoxon p={inner['wilcoxon_p']:.2g}")
    bagged = result.get("bag_ablation")
    if bagged:
        n_bag = ranker["config"].get("bagged_models", 0) if ranker else 0
        console.print(f"bagging (final ranker averaged with its {n_bag} fold models): "
                      f"NDCG@10 {bagged['ndcg@10_with']:.4f} with vs {bagged['ndcg@10_without']:.4f} without, "
                      f"Wilcoxon p={bagged['wilcoxon_p']:.2g}")
    cr = result["candidate_recall"]
    console.print(f"candidate recall: valid {cr['valid']:.3f}, test {cr['test']:.3f} "
                  f"({cr['test_mean_size']:.0f} candidates per test user, {result['n_candidates']} per member); "
                  f"total {result['total_seconds']:.0f}s")


def install(app: typer.Typer) -> None:
    """Add the ``ensemble`` command to ``app``."""

    @app.command("ensemble")
    def ensemble(
        dataset: Annotated[str, typer.Option("--dataset", "-d", help="Data set name or path.")] = "ml-latest-small",
        path: Annotated[str | None, typer.Option("--path", help="Local zip/folder/file for --dataset.")] = None,
        protocol: Annotated[str, typer.Option("--protocol", "-p", help="loo | recbole-8-1-1 | temporal.")] = "loo",
        members: Annotated[str, typer.Option("--members", "-m", help="Comma-separated member model names.")]
        = "ease,rp3beta,itemknn,als,seqrules",
        sets: Annotated[list[str] | None, typer.Option("--set", help="Member hyper-parameter MODEL.PARAM=VALUE "
                        "(repeatable; fixed params are not tuned).")] = None,
        candidates: Annotated[int, typer.Option("--candidates", "-n", help="Top-N per member in the candidate "
                              "union.")] = 100,
        seed: Annotated[int, typer.Option(help="Seed for the split, members and ranker.")] = 0,
        tune: Annotated[bool, typer.Option("--tune/--no-tune", help="Tune classical members on validation.")]
        = True,
        threads: Annotated[int, typer.Option("--threads", help="LightGBM threads.")] = 1,
        augment: Annotated[str, typer.Option("--augment", help="Extra ranker training queries from an inner split "
                           "of train: auto (mirrors the protocol) | last | random | none.")] = "auto",
        base_scale: Annotated[str, typer.Option("--base-scale", help="Total weight of the tuned fusion the "
                              "ranker's trees start from (0 = from zero), or auto: the best of "
                              "0, 0.25, 0.5, 1, 2 by cross-validated held-out ndcg@10 over the validation "
                              "users.")] = "auto",
        bag: Annotated[bool, typer.Option("--bag/--no-bag", help="Average the ranker's final model with its "
                       "cross-validation fold models (the table's 'ranker (no bagging)' row is the same fit "
                       "without them).")] = True,
        max_rounds: Annotated[int, typer.Option("--max-rounds", help="Ranker boosting-round cap (early stopping "
                              "on held-out validation users decides below it).")] = 600,
        cache_dir: Annotated[str | None, typer.Option("--cache-dir", help="Member score cache (default "
                             "~/.cache/cinesync/ensemble).")] = None,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the member cache.")]
        = False,
        json_out: Annotated[str | None, typer.Option("--json", help="Write the results JSON here.")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    ) -> None:
        """Ensemble members + RRF / weighted / adaptive fusion + LambdaRank ranker; paired tests vs the best member."""
        setup_logging(verbose)
        if min(candidates, threads, max_rounds) <= 0:
            raise typer.BadParameter("--candidates, --threads and --max-rounds must be positive")
        from cinesync.errors import ConfigError
        from cinesync.models.ensemble.augment import AUGMENTS
        from cinesync.models.ensemble.combiner import base_scales

        try:
            scale: float | str = base_scale if base_scale == "auto" else float(base_scale)
            base_scales(scale)
        except (ValueError, ConfigError):
            raise typer.BadParameter(f"--base-scale must be a number >= 0 or auto, got {base_scale!r}") from None
        if augment not in ("auto", *AUGMENTS):
            raise typer.BadParameter(f"--augment must be auto, {', '.join(AUGMENTS)}; got {augment!r}")
        with expected_errors():
            from cinesync.data.loaders import load_dataset
            from cinesync.data.protocols import make_split
            from cinesync.experiments.ensemble import run_ensemble

            specs = _members(members, sets or [])
            split = make_split(protocol, load_dataset(dataset, path), seed=seed)
            cache = None if no_cache else (cache_dir or str(DEFAULT_CACHE))
            result = run_ensemble(split, specs, candidates, seed, threads, cache, tune,
                                  fit=FitContext(threads=threads_from_env()), max_rounds=max_rounds,
                                  augment=augment, base_scale=scale, bag=bag)
        _print(result)
        if json_out:
            Path(json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(json_out).write_text(json.dumps(result, indent=2, default=float))
            console.print(f"wrote {json_out}")
