"""Run the cross-domain protocols: tune every model on the validation users, score the test users,
full ranking over the target domain only, per-user NDCG@10 / Recall@10 / Recall@20 with bootstrap CIs
and paired tests of the dedicated model against the joint baselines.

Models compared on one ``CrossDomainSplit``: "pop" (target-domain popularity), "ease" and "als" (joint
models on the merged movie + tv + other matrix, ranking only target items through the candidate mask)
and "emcdr" (``cinesync.models.emcdr``; its joint EASE is the validation-tuned "ease", reused,
and its bridge penalty and blend weights are chosen on the validation users).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinesync.data.crossdomain import CrossDomainSplit
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError
from cinesync.eval.stats import mean_ci, paired_test
from cinesync.eval.tuning import search
from cinesync.metrics import ranking_metrics
from cinesync.models.base import FitContext, Recommender
from cinesync.models.emcdr import COMPONENTS, EMCDR
from cinesync.models.registry import create
from cinesync.ranking import recommend
from cinesync.ranking.chunked import rank_chunks

log = logging.getLogger(__name__)

METRICS = ("ndcg@10", "recall@10", "recall@20")
SELECT = "ndcg@10"
JOINT = ("ease", "als")
MODELS = ("pop", "ease", "als", "emcdr")
#: extra row reported with "emcdr": its latent mapping alone (classic EMCDR), same fitted arrays
LATENT = "emcdr-latent"
DEFAULT_GRIDS: dict[str, list[dict[str, Any]]] = {
    "pop": [{}],
    "ease": [{"l2": v, "solver": "dual"} for v in (100.0, 300.0, 1000.0, 3000.0)],
    "als": [{"factors": f, "alpha": a, "regularization": 10.0} for f in (64, 128) for a in (2.0, 10.0)],
}
BRIDGE_L2 = (30.0, 100.0, 300.0, 1000.0)
BLEND_GRID = [{"joint": j, "bridge": b, "latent": t}
              for j, b, t in itertools.product((0.0, 1.0), (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0),
                                               (0.0, 0.1, 0.25, 0.5, 1.0))
              if j or b or t]


@dataclass
class ModelRun:
    """One model on one protocol: chosen config, its validation score, per-user test metrics."""

    name: str
    config: dict[str, Any]
    valid_score: float
    per_user: dict[str, np.ndarray]
    fit_seconds: float
    tuning: list[dict[str, Any]] = field(default_factory=list)

    def summary(self, n_boot: int = 1000) -> dict[str, Any]:
        out: dict[str, Any] = {"config": self.config, f"valid_{SELECT}": self.valid_score,
                               "fit_seconds": round(self.fit_seconds, 2), "n_users": int(len(self.per_user[SELECT]))}
        for m in METRICS:
            mean, lo, hi = mean_ci(self.per_user[m], n_boot=n_boot)
            out[m] = {"mean": mean, "ci95": [lo, hi]}
        out["tuning"] = self.tuning
        return out


def queries(cds: CrossDomainSplit, part: str) -> tuple[HistoryBatch, sp.csr_matrix, sp.csr_matrix]:
    """(history, targets, exclude) of the "valid" or "test" users (see ``Split.valid_queries``)."""
    if part not in ("valid", "test"):
        raise ConfigError(f"part must be 'valid' or 'test', got {part!r}")
    h, t, e, _ = cds.split.valid_queries() if part == "valid" else cds.split.test_queries()
    return h, sp.csr_matrix(t), sp.csr_matrix(e)


def rank_model(model: Recommender, history: HistoryBatch, exclude: sp.csr_matrix, candidates: np.ndarray,
               k: int = 20) -> np.ndarray:
    """(n, k) top-``k`` over ``candidates`` only (the target domain), the user's training items excluded."""
    return rank_chunks(model.score, history, k, exclude=exclude, allowed=candidates, batch_size=1024)


def per_user_metrics(top: np.ndarray, targets: sp.csr_matrix) -> dict[str, np.ndarray]:
    """{metric: (n,) per-user values} for ``METRICS``."""
    return ranking_metrics(top, targets, sorted({int(m.split("@")[1]) for m in METRICS}), only=METRICS)


def _valid_value(model: Recommender, cds: CrossDomainSplit) -> float:
    h, t, e = queries(cds, "valid")
    return float(np.nanmean(per_user_metrics(rank_model(model, h, e, cds.candidates), t)[SELECT]))


def tune(name: str, grid: list[dict[str, Any]], cds: CrossDomainSplit, seed: int = 0,
         progress: bool = False) -> tuple[Recommender, dict[str, Any], float, list[dict], float]:
    """Fit every config of ``grid`` on train, keep the best by validation NDCG@10.

    Returns (model, config, valid value, records, fit seconds of the best)."""
    def trial(cfg: dict[str, Any]) -> tuple[Recommender, dict[str, float]]:
        t0 = time.perf_counter()
        model = create(name, cfg).fit(cds.split.train, FitContext(seed=seed))
        fit_s = time.perf_counter() - t0
        value = _valid_value(model, cds)
        log.info("%s: %s %s valid %s=%.4f (fit %.1fs)", cds.protocol, name, cfg, SELECT, value, fit_s)
        return model, {f"valid_{SELECT}": value, "fit_seconds": round(fit_s, 2)}

    found = search(grid, trial, f"valid_{SELECT}", desc=f"{cds.protocol}: tune {name}", progress=progress)
    return found.model, found.config, found.value, found.records, found.fit_seconds


def tune_emcdr(cds: CrossDomainSplit, joint: Recommender, base: dict[str, Any] | None = None, seed: int = 0,
               bridge_l2: tuple[float, ...] = BRIDGE_L2, blend_grid: list[dict[str, float]] | None = None,
               progress: bool = False) -> tuple[EMCDR, dict[str, Any], float, list[dict], float]:
    """Fit EMCDR per bridge penalty (reusing the fitted joint EASE ``joint``; only the mapping into the
    target domain), then search the blend weights on the validation users' component scores without
    refitting. Within the target domain ``EMCDR.blend`` is a per-row increasing transform of the weighted
    sum of the components, so the search ranks that sum over the candidate columns. Same return as ``tune``."""
    blend_grid = blend_grid or BLEND_GRID
    into = "movie-tv" if cds.target == "tv" else "tv-movie" if cds.target == "movie" else "both"
    base = {"directions": into, **(base or {}), "l2_joint": joint.config.l2, "joint_solver": joint.config.solver}
    h, t, e = queries(cds, "valid")
    cand = np.flatnonzero(cds.candidates)
    t_c, e_c = t[:, cand], e[:, cand]
    fitted: dict[float, tuple[EMCDR, dict[str, np.ndarray], float]] = {}

    def components(l2b: float) -> tuple[EMCDR, dict[str, np.ndarray], float]:
        """The model for one bridge penalty and its candidate-column components (fitted once)."""
        if l2b not in fitted:
            fitted.clear()  # configs come grouped by l2_bridge: keep one fitted model at a time
            t0 = time.perf_counter()
            model = EMCDR({**base, "l2_bridge": l2b}).fit(cds.split.train, FitContext(seed=seed, joint=joint))
            fit_s = time.perf_counter() - t0
            comps = model.components(h)
            fitted[l2b] = (model, {k: comps[k][:, cand] for k in COMPONENTS}, fit_s)
            log.info("%s: emcdr l2_bridge=%g fitted in %.1fs", cds.protocol, l2b, fit_s)
        return fitted[l2b]

    def trial(cfg: dict[str, Any]) -> tuple[tuple[EMCDR, dict[str, Any]], dict[str, float]]:
        model, sub, fit_s = components(cfg["l2_bridge"])
        w = {k: cfg[f"w_{k}"] for k in COMPONENTS if f"w_{k}" in cfg}
        s = sum(np.float32(w[k]) * sub[k] for k in COMPONENTS if w.get(k))
        top = recommend(np.asarray(s, np.float32), 20, exclude=e_c)[0]
        return (model, w), {f"valid_{SELECT}": float(np.nanmean(per_user_metrics(top, t_c)[SELECT])),
                            "fit_seconds": fit_s}

    configs = [{"l2_bridge": l2b, **{f"w_{k}": v for k, v in w.items()}} for l2b in bridge_l2 for w in blend_grid]
    found = search(configs, trial, f"valid_{SELECT}", desc=f"{cds.protocol}: tune emcdr", progress=progress)
    (model, w), records = found.model, [{k: v for k, v in r.items() if k != "fit_seconds"} for r in found.records]
    log.info("%s: emcdr chose %s (valid %s=%.4f)", cds.protocol, found.config, SELECT, found.value)
    tuned = model.with_weights(w_joint=w["joint"], w_bridge=w["bridge"], w_latent=w["latent"])
    return tuned, tuned.config.model_dump(mode="json"), found.value, records, found.fit_seconds


def run_protocol(cds: CrossDomainSplit, models: tuple[str, ...] = MODELS, seed: int = 0,
                 grids: dict[str, list[dict[str, Any]]] | None = None, progress: bool = False,
                 on_model: Callable[[str], None] | None = None) -> dict[str, ModelRun]:
    """Tune on valid and score test for each model in ``models``; "emcdr" needs "ease" (its joint part)."""
    grids = {**DEFAULT_GRIDS, **(grids or {})}
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ConfigError(f"cross-domain models must be among {list(MODELS)}, got {unknown}")
    if "emcdr" in models and "ease" not in models:
        raise ConfigError("model 'emcdr' reuses the tuned joint 'ease': include 'ease' in the models")
    h, t, e = queries(cds, "test")
    fitted: dict[str, Recommender] = {}
    runs: dict[str, ModelRun] = {}
    for name in [m for m in MODELS if m in models]:
        if on_model:
            on_model(name)
        if name == "emcdr":
            model, cfg, value, records, fit_s = tune_emcdr(cds, fitted["ease"], seed=seed, progress=progress)
        else:
            model, cfg, value, records, fit_s = tune(name, grids[name], cds, seed, progress)
        fitted[name] = model
        top = rank_model(model, h, e, cds.candidates)
        runs[name] = ModelRun(name, model.config.model_dump(mode="json"), value, per_user_metrics(top, t), fit_s,
                              records)
        log.info("%s: %s test %s=%.4f", cds.protocol, name, SELECT, np.nanmean(runs[name].per_user[SELECT]))
        if name == "emcdr":  # ablation: the EMCDR latent mapping alone (no bridge, no joint part)
            alone = model.with_weights(w_joint=0.0, w_bridge=0.0, w_latent=1.0)
            runs[LATENT] = ModelRun(LATENT, alone.config.model_dump(mode="json"), _valid_value(alone, cds),
                                    per_user_metrics(rank_model(alone, h, e, cds.candidates), t), fit_s)
    return runs


def comparisons(runs: dict[str, ModelRun], model: str = "emcdr") -> dict[str, Any]:
    """Paired tests (Wilcoxon + t) of ``model`` against each joint baseline, per metric; "best_joint" is
    the joint baseline with the higher TEST NDCG@10 (the conservative comparator)."""
    if model not in runs:
        return {}
    joints = [j for j in JOINT if j in runs]
    out: dict[str, Any] = {}
    for j in joints:
        out[j] = {m: paired_test(runs[model].per_user[m], runs[j].per_user[m]) for m in METRICS}
    if joints:
        out["best_joint"] = max(joints, key=lambda j: float(np.nanmean(runs[j].per_user[SELECT])))
    return out
