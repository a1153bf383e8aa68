"""Benchmark (not a test): fit time, evaluation time and peak memory per model.

Each model runs in its own spawned process so peak memory (ru_maxrss) is that model's alone.

    python -m benchmarks.bench --out results/benchmark          # make benchmark
    python -m benchmarks.bench --models ease,itemknn --no-synthetic
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _job(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: load data, split, fit one model, rank every test user."""
    import numpy as np

    from cinesync.data.loaders import load_dataset
    from cinesync.data.protocols import make_split
    from cinesync.data.synthetic import power_law
    from cinesync.eval.runner import fit_model, rank_split
    from cinesync.metrics import ranking_metrics

    if spec["data"] == "synthetic":
        data = power_law(spec["users"], spec["items"], spec["interactions"], seed=0)
    else:
        data = load_dataset(spec["data"])
    split = make_split("loo", data, seed=0)
    base_mb = _peak_mb()
    model, fit_s = fit_model(spec["model"], {}, split, seed=0)
    t0 = time.perf_counter()
    ranked = rank_split(model, split, "test", 10, batch_size=2048)
    ndcg = float(np.nanmean(ranking_metrics(ranked.top, ranked.targets, [10])["ndcg@10"]))
    eval_s = time.perf_counter() - t0  # scoring + top-k + metrics for every test user
    return {"data": spec["data"] if spec["data"] != "synthetic" else data.name, "model": spec["model"],
            "users": int(len(ranked.users)), "items": int(split.train.n_items), "interactions": int(len(data)),
            "fit_s": fit_s, "eval_s": eval_s, "peak_mb": _peak_mb(), "data_mb": base_mb, "ndcg@10": ndcg}


def run_benchmark(models: list[str], synthetic: bool, users: int, items: int, interactions: int,
                  synthetic_models: list[str], out: str | None, console: Any) -> list[dict[str, Any]]:
    """Run every (data, model) job, print a table, optionally write JSON + a plot."""
    from rich.table import Table

    specs = [{"data": "ml-latest-small", "model": m} for m in models]
    if synthetic:
        specs += [{"data": "synthetic", "model": m, "users": users, "items": items, "interactions": interactions}
                  for m in synthetic_models]
    rows = []
    ctx = mp.get_context("spawn")
    for spec in specs:
        t0 = time.perf_counter()
        log.info("benchmark %s on %s ...", spec["model"], spec["data"])
        with ctx.Pool(1) as pool:
            row = pool.apply(_job, (spec,))
        log.info("  done in %.1fs: fit %.1fs, eval %.1fs, peak %.0f MB", time.perf_counter() - t0,
                 row["fit_s"], row["eval_s"], row["peak_mb"])
        rows.append(row)
    table = Table(title="CineSync benchmark (loo split; evaluation = rank all test users over all items, top-10)")
    for col in ("data", "model", "users", "items", "interactions", "fit s", "eval s", "peak MB", "ndcg@10"):
        table.add_column(col, justify="left" if col in ("data", "model") else "right")
    for r in rows:
        table.add_row(r["data"], r["model"], f"{r['users']:,}", f"{r['items']:,}", f"{r['interactions']:,}",
                      f"{r['fit_s']:.2f}", f"{r['eval_s']:.2f}", f"{r['peak_mb']:.0f}", f"{r['ndcg@10']:.4f}")
    console.print(table)
    console.print("peak MB = peak resident memory of the model's own process (data + split + model + evaluation).")
    if out:
        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        (d / "benchmark.json").write_text(json.dumps(rows, indent=2))
        _plot(rows, d / "benchmark.png")
        console.print(f"wrote {d / 'benchmark.json'} and {d / 'benchmark.png'}")
    return rows


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['model']}\n{r['data'][:14]}" for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    x = range(len(rows))
    axes[0].bar([i - 0.2 for i in x], [r["fit_s"] for r in rows], width=0.4, label="fit")
    axes[0].bar([i + 0.2 for i in x], [r["eval_s"] for r in rows], width=0.4, label="evaluate")
    axes[0].set_ylabel("seconds")
    axes[0].set_yscale("log")
    axes[0].legend()
    axes[1].bar(list(x), [r["peak_mb"] for r in rows], color="#55a868")
    axes[1].set_ylabel("peak MB")
    for ax in axes:
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    from cinesync.cli.common import console, parse_models, setup_logging

    ap = argparse.ArgumentParser(description="Fit time, evaluation time and peak memory per model (bundled data "
                                             "+ a synthetic power-law set).")
    ap.add_argument("--models", "-m", default="classical", help="comma-separated model names or a group")
    ap.add_argument("--synthetic", action=argparse.BooleanOptionalAction, default=True,
                    help="also run the synthetic power-law set")
    ap.add_argument("--users", type=int, default=100_000, help="synthetic users")
    ap.add_argument("--items", type=int, default=20_000, help="synthetic items")
    ap.add_argument("--interactions", type=int, default=10_000_000, help="synthetic interactions")
    ap.add_argument("--synthetic-models", default="pop,als", help="models run on the synthetic set")
    ap.add_argument("--out", help="write the table as JSON and a plot PNG here")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    setup_logging(args.verbose)
    run_benchmark(parse_models(args.models), args.synthetic, args.users, args.items, args.interactions,
                  parse_models(args.synthetic_models), args.out, console)


if __name__ == "__main__":
    main()
