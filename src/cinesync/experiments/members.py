"""Member score matrices for one split: fit (or tune on validation), score valid + test, cache on disk.

Cache key: protocol, seed, split checksum, member name and base config, whether it was tuned.
The cached file holds the masked valid / test score matrices, the chosen config and the fit time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cinesync.eval.runner import fit_model, tune
from cinesync.models.base import FitContext
from cinesync.models.registry import model_class
from cinesync.ranking.candidates import masked

log = logging.getLogger(__name__)


@dataclass
class MemberScores:
    """One fitted member's masked (n_valid, n_items) and (n_test, n_items) float32 scores."""

    name: str
    config: dict[str, Any]
    valid: np.ndarray
    test: np.ndarray
    fit_seconds: float
    cached: bool = False


def _key(split: Any, name: str, base: dict[str, Any], tuned: bool, seed: int) -> str:
    doc = json.dumps({"split": split.params, "n": [len(split.train), len(split.valid), len(split.test)],
                      "train": split.train.checksum(), "name": name, "base": base, "tuned": tuned, "seed": seed},
                     sort_keys=True, default=str)
    return f"{split.name}-s{seed}-{name}-{hashlib.sha256(doc.encode()).hexdigest()[:16]}"


def member_scores(split: Any, name: str, base: dict[str, Any], seed: int = 0, tune_on_valid: bool = True,
                  cache_dir: str | os.PathLike | None = None, fit: FitContext | None = None) -> MemberScores:
    """Fit ``name`` on split.train (tuned on valid when it has a grid and ``tune_on_valid``), score both parts.
    ``fit``: how the member is fitted (device, torch threads)."""
    tuned = bool(tune_on_valid and model_class(name).tune_grid)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{_key(split, name, base, tuned, seed)}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                log.info("member %s: cached scores %s", name, path.name)
                return MemberScores(name, meta["config"], z["valid"], z["test"], meta["fit_seconds"], True)
    t0 = time.perf_counter()
    ctx = fit or FitContext()
    if tuned:
        model, config, _, fit_s = tune(name, base, split, seed=seed, ctx=ctx)
    else:
        model, fit_s = fit_model(name, base, split, seed, ctx)
        config = model.config.model_dump(mode="json")
    vh, _, vex, _ = split.valid_queries()
    th, _, tex, _ = split.test_queries()
    valid, test = masked(model.score(vh), vex), masked(model.score(th), tex)
    log.info("member %s: fitted in %.1fs (with tuning %.1fs), config %s", name, fit_s, time.perf_counter() - t0,
             config)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, valid=valid, test=test,
                 meta=np.asarray(json.dumps({"config": config, "fit_seconds": fit_s}, default=str)))
        os.replace(tmp, path)
    return MemberScores(name, dict(config), valid, test, fit_s)
