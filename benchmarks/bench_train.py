"""Training-speed benchmark (not a test): seconds per epoch, sequences/s and time to the best
validation epoch of a neural model on a protocol's split, on the CPU or CUDA.

"Sequences" are the training windows an epoch runs through; "targets" are the next-item
predictions they hold (one per training interaction after each user's first). Libraries that
train on every prefix as its own sequence (RecBole) count targets as sequences, so both are
reported.

    python -m benchmarks.bench_train --model sasrec --out results/bench-train     # make bench-train
    python -m benchmarks.bench_train --model bert4rec --set epochs=5 --device cuda
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _training_units(model: Any, split: Any) -> tuple[int, int]:
    """(sequences, next-item targets) of one training epoch of ``model``."""
    from cinesync.models.neural import seqdata

    cfg = model.config
    if hasattr(cfg, "max_len") and hasattr(cfg, "windows"):
        wins = seqdata.windows(split.train.histories(), cfg.max_len + 1, newest_only=cfg.windows == "newest")
        return len(wins), int((wins.lengths - 1).sum())
    hist = split.train.histories()
    return int((hist.lengths >= 1).sum()), int(len(split.train))


def run_train_benchmark(model_name: str, config: dict[str, Any], protocol: str, data: Any, device: str, seed: int,
                        out: str | None, console: Any, threads: int | None = None) -> dict[str, Any]:
    """Fit once with validation-based early stopping; print a table; optionally write JSON + a plot."""
    import torch
    from rich.table import Table

    from cinesync.data.protocols import make_split
    from cinesync.eval.runner import fit_model, rank_split
    from cinesync.metrics import ranking_metrics
    from cinesync.models.base import FitContext
    from cinesync.training.runtime import available_cores

    split = make_split(protocol, data, seed=seed)
    dataset = data.name
    t0 = time.perf_counter()
    model, fit_s = fit_model(model_name, config, split, seed, FitContext(device=device, threads=threads),
                             progress=True)
    hist = model.train_result_.history
    seqs, targets = _training_units(model, split)
    epoch_s = np.array([h["seconds"] for h in hist])
    best = model.train_result_.best_epoch
    best_row = hist[best - 1]
    ranked = rank_split(model, split, "valid", 10)
    valid_ndcg = float(np.nanmean(ranking_metrics(ranked.top, ranked.targets, [10])["ndcg@10"]))
    row = {
        "model": model_name, "dataset": dataset, "protocol": protocol, "device": device,
        "threads": threads or max(torch.get_num_threads(), available_cores()), "epochs_run": len(hist),
        "best_epoch": best,
        "sequences_per_epoch": seqs, "targets_per_epoch": targets,
        "epoch_s_median": float(np.median(epoch_s)), "epoch_s_mean": float(epoch_s.mean()),
        "sequences_per_s": seqs / float(np.median(epoch_s)), "targets_per_s": targets / float(np.median(epoch_s)),
        "time_to_best_s": float(best_row.get("elapsed", epoch_s[:best].sum())), "fit_s": fit_s,
        "valid_ndcg@10": valid_ndcg, "wall_s": time.perf_counter() - t0,
        "config": model.config.model_dump(mode="json"), "history": hist,
    }
    table = Table(title=f"training speed: {model_name} on {dataset} ({protocol}), {device}, {row['threads']} threads")
    for col in ("epochs (best)", "s/epoch (median)", "sequences/epoch", "sequences/s", "targets/s",
                "time to best s", "fit s", "valid NDCG@10"):
        table.add_column(col, justify="right")
    table.add_row(f"{len(hist)} ({best})", f"{row['epoch_s_median']:.2f}", f"{seqs:,}",
                  f"{row['sequences_per_s']:,.0f}", f"{row['targets_per_s']:,.0f}",
                  f"{row['time_to_best_s']:.1f}", f"{fit_s:.1f}", f"{valid_ndcg:.4f}")
    console.print(table)
    if out:
        _write(row, Path(out))
        console.print(f"results: {Path(out) / 'train_speed.json'}, plot: {Path(out) / 'train_curve.png'}")
    return row


def _write(row: dict[str, Any], out: Path) -> None:
    """train_speed.json + train_curve.png (validation NDCG@10 against wall time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "train_speed.json").write_text(json.dumps(row, indent=2))
    pts = [(h["elapsed"], h["ndcg@10"]) for h in row["history"] if "ndcg@10" in h and "elapsed" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if pts:
        ax.plot(*zip(*pts, strict=True), marker="o")
    ax.set_xlabel("wall seconds (training + validation)")
    ax.set_ylabel("validation NDCG@10")
    ax.set_title(f"{row['model']} on {row['dataset']} ({row['device']}, {row['threads']} threads)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "train_curve.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    from cinesync.cli.common import (
        console,
        load_data,
        parse_device,
        parse_model_params,
        parse_models,
        setup_logging,
        threads_from_env,
    )

    ap = argparse.ArgumentParser(description="Training speed of a neural model (not a test): s/epoch, "
                                             "sequences/s, time to the best validation epoch.")
    ap.add_argument("--model", "-m", default="sasrec", help="a neural model name")
    ap.add_argument("--dataset", "-d", default="ml-latest-small")
    ap.add_argument("--path", help="local zip/folder/file for --dataset")
    ap.add_argument("--protocol", "-p", default="loo", help="split to train on (its validation part drives early "
                                                             "stopping)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="PARAM=VALUE, e.g. --set epochs=5")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write train_speed.json and train_curve.png here")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    setup_logging(args.verbose)
    name = parse_models(args.model)[0]
    config = parse_model_params([f"{name}.{s}" for s in args.sets], [name]).get(name, {})
    run_train_benchmark(name, config, args.protocol, load_data(args.dataset, args.path), parse_device(args.device),
                        args.seed, args.out, console, threads_from_env())


if __name__ == "__main__":
    main()
