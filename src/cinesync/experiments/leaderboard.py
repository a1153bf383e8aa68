"""An experiment: several models on one split -> leaderboard with CIs and significance vs the best.

The result document is plain JSON-able data, reproducible from its logged config, seed
and data checksum.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from cinesync.errors import DataError
from cinesync.eval import beyond, stats
from cinesync.eval.runner import ModelResult, activity_of, evaluate, rank_split
from cinesync.models.base import FitContext
from cinesync.models.registry import create
from cinesync.version import __version__

log = logging.getLogger(__name__)

#: metrics that get a bootstrap CI and a significance test in the leaderboard
ACCURACY = ("ndcg", "recall", "hr", "mrr", "map", "precision")


@dataclass
class ExperimentConfig:
    """Everything that defines a run (logged in every output)."""

    dataset: str
    protocol: str
    models: list[str]
    ks: list[int] = field(default_factory=lambda: [10, 20])
    seed: int = 0
    tune: bool = True
    #: models kept at their (validated) default configuration even when ``tune`` is on
    untuned: list[str] = field(default_factory=list)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_size: int = 2048
    beyond: bool = True
    n_boot: int = 1000
    sampled_negatives: int = 0
    #: how every model is fitted: device ("cpu" | "cuda"), torch threads, training logs, tracker
    fit: FitContext = field(default_factory=FitContext)


def versions() -> dict[str, str]:
    """Versions of the libraries that determine the numbers."""
    out = {"cinesync": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "implicit", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def run_experiment(split: Any, cfg: ExperimentConfig, progress: bool = True) -> dict[str, Any]:
    """Evaluate every model of ``cfg`` on ``split``; returns the result document. A split without test
    interactions is an error (every metric would be empty)."""
    if len(split.test) == 0 or len(split.train) == 0:
        raise DataError(f"{cfg.dataset}: the {cfg.protocol} split has {len(split.train):,} training and "
                        f"{len(split.test):,} test interactions, so there is nothing to evaluate; use more data "
                        "(leave-one-out needs users with at least 3 interactions) or another protocol")
    popular_top = None
    if cfg.beyond:
        pop = create("pop").fit(split.train)
        popular_top = _popular_lists(pop, split, max(cfg.ks), cfg.batch_size)
    results: dict[str, ModelResult] = {}
    for name in cfg.models:
        t0 = time.perf_counter()
        tuned = cfg.tune and name not in cfg.untuned
        log.info("model %s: %s", name, "tuning on validation" if tuned else "fixed config")
        results[name] = evaluate(
            name, split, cfg.ks, cfg.configs.get(name), tuned, cfg.seed, cfg.batch_size,
            cfg.beyond, popular_top, progress, cfg.sampled_negatives, cfg.fit,
        )
        m = results[name].means()
        log.info("model %s: test ndcg@%d=%.4f recall@%d=%.4f (%.1fs)", name, cfg.ks[0],
                 m[f"ndcg@{cfg.ks[0]}"], cfg.ks[0], m[f"recall@{cfg.ks[0]}"], time.perf_counter() - t0)
    return build_document(split, cfg, results)


def _popular_lists(pop: Any, split: Any, k: int, batch_size: int) -> np.ndarray:
    """(n_users, k) popularity top lists (the 'expected' recommendations for serendipity)."""
    ranked = rank_split(pop, split, "test", k, batch_size)
    out = np.full((split.train.n_users, k), -1, np.int64)
    out[ranked.users] = ranked.top
    return out


def build_document(split: Any, cfg: ExperimentConfig, results: dict[str, ModelResult]) -> dict[str, Any]:
    """Aggregate per-user vectors into means, CIs, significance, per-group results."""
    doc: dict[str, Any] = {
        "results": {},
        "ci95": {},
        "significance": {},
        "groups": {},
        "timing": {},
        "tuning": {},
        "config": {
            "dataset": cfg.dataset, "protocol": cfg.protocol, "split": split.name, "split_params": split.params,
            "models": cfg.models, "k": cfg.ks, "seed": cfg.seed, "tuned_on": "valid" if cfg.tune else None,
            "untuned": cfg.untuned,
            "device": cfg.fit.device,
            "model_configs": {n: r.config for n, r in results.items()},
        },
        "data": {"checksum": split.train.checksum(), "summary": split.summary(), "log": list(split.log)},
        "versions": versions(),
    }
    for name, r in results.items():
        doc["results"][name] = {k: _num(v) for k, v in r.means().items()}
        doc["ci95"][name] = {}
        for key, vec in r.per_user.items():
            if key.split("@")[0] in ACCURACY:
                mean, lo, hi = stats.mean_ci(vec, n_boot=cfg.n_boot, seed=cfg.seed)
                doc["ci95"][name][key] = [_num(lo), _num(hi)]
        doc["timing"][name] = {"fit_seconds": r.fit_seconds, "eval_seconds": r.eval_seconds}
        doc["tuning"][name] = r.tuning
        groups = beyond.activity_groups(activity_of(split, r.users))
        doc["groups"][name] = {
            f"ndcg@{k}": {str(g): _num(v) for g, v in beyond.grouped_means(r.per_user[f"ndcg@{k}"], groups).items()}
            for k in cfg.ks
        }
    if len(results) > 1:
        for key in results[next(iter(results))].per_user:
            if key.split("@")[0] not in ACCURACY:
                continue
            best, comp = stats.compare_to_best({n: r.per_user[key] for n, r in results.items()})
            doc["significance"][key] = {"best": best, "vs_best": _clean(comp)}
    return doc


def _num(x: Any) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else x


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (np.floating, float)):
        return _num(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
