"""One training loop for every neural model: AdamW, warm-up + cosine / OneCycle / constant
learning rate, gradient clipping and accumulation, bf16 autocast on CUDA, early stopping on
validation NDCG@10, per-epoch checkpoints with resume, a JSON-lines metrics log, and optional
MLflow / Weights & Biases tracking.

The model supplies three callables:
- ``batches_fn(rng) -> list`` of one epoch's batches (``rng``: a seeded NumPy Generator);
- ``loss_fn(module, batch) -> scalar tensor``;
- ``score_fn(module, HistoryBatch) -> (n, n_items)`` scores (called in eval mode, no_grad).

Determinism: each epoch reseeds torch with ``seed + epoch`` and uses
``np.random.default_rng([seed, epoch])``, so a resumed run continues exactly as an
uninterrupted one would.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from cinesync.data.history import HistoryBatch
from cinesync.metrics import ranking_metrics
from cinesync.ranking.chunked import rank_chunks
from cinesync.training.config import TrainConfig
from cinesync.training.tracking import Tracker
from cinesync.training.validation import ValidationData

log = logging.getLogger(__name__)

VALID_CHUNK = 1024


@dataclass(frozen=True)
class RunOptions:
    """How one training run executes (not what it learns): seed, device ("cpu" | "cuda"), bf16
    autocast (CUDA only), a checkpoint folder to resume from, a JSON-lines metrics log and an optional
    experiment tracker ("mlflow" | "wandb"; the package must be installed) with its run name."""

    seed: int = 42
    device: Literal["cpu", "cuda"] = "cpu"
    bf16: bool = True
    checkpoint_dir: str | None = None
    metrics_log: str | None = None
    tracker: Literal["mlflow", "wandb"] | None = None
    run_name: str | None = None


@dataclass
class TrainResult:
    """best_epoch: 1-based epoch whose weights were kept; best_ndcg: its validation NDCG@10
    (NaN without validation); history: one dict per epoch (epoch, loss, lr, seconds of training,
    elapsed wall seconds since the start including validation, ndcg@10 when validated)."""

    best_epoch: int
    best_ndcg: float
    history: list[dict[str, Any]] = field(default_factory=list)


def validation_ndcg(module: torch.nn.Module, score_fn: Callable[[torch.nn.Module, HistoryBatch], np.ndarray],
                    valid: ValidationData, chunk: int = VALID_CHUNK) -> float:
    """Mean NDCG@10 over validation users with targets, ranking in user chunks."""
    was_training = module.training
    module.eval()
    n_items = valid.exclude.shape[1]
    k = min(10, n_items)
    with torch.no_grad():
        top = rank_chunks(lambda batch: score_fn(module, batch), valid.history, k, exclude=valid.exclude,
                          batch_size=chunk)
    module.train(was_training)
    vals = ranking_metrics(top, valid.targets, [k])[f"ndcg@{k}"] if len(top) else np.array([np.nan])
    return float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, total: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-optimiser-step schedule over ``total`` steps."""
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(total, 2),
                                                   pct_start=max(cfg.warmup_frac, 1e-3))
    warm = int(round(cfg.warmup_frac * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.schedule == "constant":
            return 1.0
        frac = (step - warm) / max(total - warm, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _latest_checkpoint(directory: Path) -> Path | None:
    found = sorted(directory.glob("epoch_*.pt"))
    return found[-1] if found else None


def _clone_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def train(module: torch.nn.Module, batches_fn: Callable[[np.random.Generator], list],
          loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
          score_fn: Callable[[torch.nn.Module, HistoryBatch], np.ndarray], cfg: TrainConfig,
          run: RunOptions | None = None, valid: ValidationData | None = None, progress: bool = False) -> TrainResult:
    """Train ``module`` in place; at the end it holds the best validated (or the last) weights."""
    run = run or RunOptions()
    device = torch.device(run.device)
    module.to(device)
    torch.manual_seed(run.seed)
    n_batches = len(batches_fn(np.random.default_rng([run.seed, 0])))
    steps_per_epoch = max(1, math.ceil(n_batches / cfg.grad_accum))
    opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = _scheduler(opt, cfg, steps_per_epoch * cfg.epochs)
    autocast = run.bf16 and device.type == "cuda"

    start, best_epoch, best_ndcg, bad = 0, 0, -math.inf, 0
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, Any]] = []
    ckpt_dir = Path(run.checkpoint_dir) if run.checkpoint_dir else None
    if ckpt_dir is not None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        latest = _latest_checkpoint(ckpt_dir)
        if latest is not None:
            ck = torch.load(latest, map_location=device, weights_only=True)
            module.load_state_dict(ck["module"])
            opt.load_state_dict(ck["optim"])
            sched.load_state_dict(ck["sched"])
            start, best_epoch, best_ndcg, bad = ck["epoch"], ck["best_epoch"], ck["best_ndcg"], ck["bad"]
            best_state, history = ck["best_state"], ck["history"]
            log.info("resuming from %s (epoch %d done)", latest, start)

    tracker = Tracker(run.tracker, {**cfg.model_dump(), **asdict(run)}, run.run_name) if run.tracker else None
    bar = tqdm(range(start, cfg.epochs), desc="train", disable=not progress, leave=False)
    stopped = bad >= (cfg.patience or math.inf)
    run_start = time.perf_counter() - (history[-1]["elapsed"] if history and "elapsed" in history[-1] else 0.0)
    for epoch in bar:
        if stopped:
            break
        t0 = time.perf_counter()
        torch.manual_seed(run.seed + epoch)
        batches = batches_fn(np.random.default_rng([run.seed, epoch]))
        module.train()
        total, count = 0.0, 0
        opt.zero_grad(set_to_none=True)
        for i, batch in enumerate(batches):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(module, batch)
            (loss / cfg.grad_accum).backward()
            total, count = total + float(loss.detach()), count + 1
            if (i + 1) % cfg.grad_accum == 0 or i + 1 == len(batches):
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)
                opt.step()
                opt.zero_grad(set_to_none=True)
                if sched.last_epoch + 1 < sched_total(sched, steps_per_epoch * cfg.epochs):
                    sched.step()
        row: dict[str, Any] = {"epoch": epoch + 1, "loss": total / max(count, 1),
                               "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
        if valid is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
            ndcg = validation_ndcg(module, score_fn, valid)
            row["ndcg@10"] = ndcg
            if ndcg > best_ndcg:
                best_epoch, best_ndcg, bad, best_state = epoch + 1, ndcg, 0, _clone_state(module)
            else:
                bad += 1
                stopped = cfg.patience is not None and bad >= cfg.patience
        row["elapsed"] = time.perf_counter() - run_start  # wall seconds since the start, validation included
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4f}", ndcg=f"{row.get('ndcg@10', float('nan')):.4f}")
        log.debug("epoch %s", row)
        if run.metrics_log:
            with open(run.metrics_log, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        if tracker is not None:
            tracker.log(row, step=epoch + 1)
        if ckpt_dir is not None:
            torch.save({"epoch": epoch + 1, "module": module.state_dict(), "optim": opt.state_dict(),
                        "sched": sched.state_dict(), "best_epoch": best_epoch, "best_ndcg": best_ndcg,
                        "bad": bad, "best_state": best_state, "history": history},
                       ckpt_dir / f"epoch_{epoch + 1:04d}.pt")
        if stopped:
            log.info("early stop after epoch %d (best %d, NDCG@10 %.4f)", epoch + 1, best_epoch, best_ndcg)
    bar.close()
    if tracker is not None:
        tracker.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        best_epoch, best_ndcg = len(history), float("nan")
    return TrainResult(best_epoch, best_ndcg, history)


def sched_total(sched: torch.optim.lr_scheduler.LRScheduler, total: int) -> int:
    """Steps the scheduler may take (OneCycleLR raises past its ``total_steps``)."""
    return getattr(sched, "total_steps", total + 1)
