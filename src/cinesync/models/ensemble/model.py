"""The ``ensemble`` Recommender: member models fitted on train, a combiner fitted on ``ctx.valid``.

Scoring: every member scores the batch, seen items are masked, the union of the members'
top-``n_candidates`` forms the candidate set, the combiner scores the candidates. Items
outside the candidate set get a finite score below every candidate of their row, so
``ranking.recommend`` ranks the candidates first. Saved as one artifact: member arrays under
``m{j}__`` prefixes, training statistics under ``stats__``, the combiner under ``comb__``
(the LightGBM ranker as its text format).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pydantic

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.ensemble.augment import Augment, inner_split, pools_of
from cinesync.models.ensemble.combiner import (
    BASE_SCALE,
    RANKER_FOLDS,
    Pool,
    apply_combiner,
    equal_weights,
    fit_combiner,
)
from cinesync.models.ensemble.features import ItemStats
from cinesync.models.registry import create, register
from cinesync.ranking.candidates import masked
from cinesync.training.validation import ValidationData

log = logging.getLogger(__name__)


class MemberSpec(ModelConfig):
    """One member: a registered model name and its config."""

    name: str
    config: dict[str, Any] = pydantic.Field(default_factory=dict)


class EnsembleConfig(ModelConfig):
    """members: the member models; combiner: how their candidates are re-scored.

    n_candidates: top-N per member that enter the union; context: time-context features for
    the ranker (true / false / "auto" = chosen on held-out validation users); augment: extra
    ranker training queries from an inner split of train ("last" = each user's newest training
    items, "random" = a per-user random 80/10/10, "none"; see ``ensemble.augment``; costs a
    second fit of every member); base_scale: total weight of the tuned fusion the ranker's
    trees start from (0 = from zero; "auto" = the one of ``combiner.BASE_SCALES`` with the best
    cross-validated held-out ndcg@10); folds: user-level cross-validation folds over the
    validation users for the ranker's choices (1 = one 80/20 holdout); bag: the ranker averages
    its final model with the chosen setting's cross-validation fold models; buckets:
    history-length buckets of "adaptive"; threads:
    LightGBM threads; max_rounds: the ranker's boosting-round cap (early stopping on held-out
    validation users).
    """

    members: list[MemberSpec] = pydantic.Field(
        default_factory=lambda: [MemberSpec(name="ease"), MemberSpec(name="seqrules"), MemberSpec(name="itemknn")],
        min_length=1)
    combiner: Literal["ranker", "rrf", "weighted", "adaptive"] = "ranker"
    n_candidates: int = pydantic.Field(100, ge=1)
    context: bool | Literal["auto"] = "auto"
    augment: Augment = "last"
    base_scale: Annotated[float, pydantic.Field(ge=0.0, le=100.0)] | Literal["auto"] = BASE_SCALE
    folds: int = pydantic.Field(RANKER_FOLDS, ge=1, le=20)
    bag: bool = True
    buckets: int = pydantic.Field(3, ge=1)
    rrf_k: float = pydantic.Field(60.0, gt=0.0)
    threads: int = pydantic.Field(1, ge=1)
    max_rounds: int = pydantic.Field(600, ge=1)


_ARRAYS = ("weights", "edges", "bucket_weights")
#: LightGBM models (text format) of the ranker, stored as string arrays rather than in the JSON meta
_TEXTS = ("model_text", "bag_texts")


@register
class Ensemble(Recommender):
    """Candidates from several members, re-scored by a learned ranker or a tuned fusion."""

    name = "ensemble"
    config_class = EnsembleConfig
    tune_grid: ClassVar[dict[str, list]] = {}
    family: ClassVar[str] = "ensemble"
    needs_validation: ClassVar[bool] = True

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        if any(m.name == "ensemble" for m in self.config.members):
            raise ConfigError("an ensemble cannot have an ensemble as a member")
        self.members_: list[Recommender] = []
        self.stats_: ItemStats | None = None
        self.combiner_: dict[str, Any] | None = None

    # ---- training ----------------------------------------------------
    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        cfg = self.config
        self.members_ = [create(m.name, dict(m.config)).fit(train, ctx) for m in cfg.members]
        self.stats_ = ItemStats.from_train(train)
        if cfg.combiner == "rrf":
            self.combiner_ = {"kind": "rrf", "rrf_k": cfg.rrf_k, "context": cfg.context}
            return
        if ctx.valid is None:
            log.warning("ensemble: no validation data in FitContext; combiner %r falls back to an equal-weight "
                        "sum of normalised member scores", cfg.combiner)
            self.combiner_ = equal_weights(len(self.members_))
            return
        v = ctx.valid
        pool = self._pool(v.history, v.exclude)
        extra = self._inner_pools(train, ctx) if cfg.combiner == "ranker" else []
        self.combiner_ = fit_combiner(cfg.combiner, pool, v.targets, seed=ctx.seed, threads=cfg.threads,
                                      context=cfg.context, buckets=cfg.buckets, rrf_k=cfg.rrf_k,
                                      max_rounds=cfg.max_rounds, extra=extra, base_scale=cfg.base_scale,
                                      folds=cfg.folds, bag=cfg.bag)

    def _inner_pools(self, train: Interactions, ctx: FitContext) -> list[tuple[Pool, Any]]:
        """Inner pools (``ensemble.augment``): members refitted on the inner train part score its queries."""
        inner = inner_split(train, self.config.augment, ctx.seed)
        if inner is None:
            return []
        # its own run: the same device and threads, none of the outer run's logs or checkpoints
        inner_ctx = FitContext(seed=ctx.seed, progress=ctx.progress, device=ctx.device, threads=ctx.threads)
        h, t, ex, _ = inner.valid_queries()
        inner_ctx.valid = ValidationData(h, t, ex) if len(h) else None
        log.info("ensemble: inner pools (%s), members refitted on %d of %d interactions", self.config.augment,
                 len(inner.train), len(train))
        members = [create(m.name, dict(m.config)).fit(inner.train, inner_ctx) for m in self.config.members]
        return pools_of(inner, lambda _which, h, ex: [masked(m.score(h), ex) for m in members],
                        self.config.n_candidates)

    def _pool(self, history: HistoryBatch, exclude: Any) -> Pool:
        assert self.stats_ is not None
        scores = [masked(m.score(history), exclude) for m in self.members_]
        return Pool.build(scores, history, self.stats_, self.config.n_candidates)

    # ---- scoring -----------------------------------------------------
    def score_with_confidence(self, batch: HistoryBatch) -> tuple[np.ndarray, np.ndarray]:
        """((n, n_items) scores, (n, n_items) member agreement in (0, 1] on candidates, 0 elsewhere)."""
        scores = self.score(batch)
        if len(batch) == 0:
            return scores, np.zeros_like(scores)
        pool = self._pool(batch, batch.to_csr(self.n_items_))
        return scores, pool.cands.to_dense(pool.confidence().astype(np.float32), fill=0.0)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        assert self.combiner_ is not None
        n, m = len(batch), int(self.n_items_)
        if n == 0:
            return np.zeros((0, m), np.float32)
        pool = self._pool(batch, batch.to_csr(m))
        values = apply_combiner(self.combiner_, pool, self.config.threads)
        rows = pool.cands.rows
        low = np.full(n, np.inf)
        np.minimum.at(low, rows, values)
        low = np.where(np.isfinite(low), low, 0.0) - 1.0
        out = np.repeat(low[:, None], m, axis=1).astype(np.float32)
        out[rows, pool.cands.items] = values
        return out

    # ---- persistence -------------------------------------------------
    def state(self) -> dict[str, Any]:
        assert self.stats_ is not None and self.combiner_ is not None
        out: dict[str, Any] = {}
        for j, member in enumerate(self.members_):
            out.update({f"m{j}__{k}": v for k, v in member.state().items()})
        out.update(self.stats_.state())
        comb = self.combiner_
        out["comb__meta"] = np.asarray(json.dumps({k: v for k, v in comb.items()
                                                   if k not in _ARRAYS and k not in _TEXTS}))
        if "model_text" in comb:
            out["comb__model_text"] = np.asarray(comb["model_text"])
        if comb.get("bag_texts"):
            out["comb__bag_texts"] = np.asarray(list(comb["bag_texts"]))
        for key in _ARRAYS:
            if key in comb:
                out[f"comb__{key}"] = np.asarray(comb[key], np.float64)
        return out

    def _load_state(self, arrays: dict[str, Any]) -> None:
        n_items = int(np.asarray(arrays["stats__pop"]).shape[0])
        self.members_ = []
        for j, spec in enumerate(self.config.members):
            prefix = f"m{j}__"
            sub = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.members_.append(create(spec.name, dict(spec.config)).load_state(sub, n_items))
        self.stats_ = ItemStats.from_state(arrays)
        comb: dict[str, Any] = json.loads(str(arrays["comb__meta"]))
        if "comb__model_text" in arrays:
            comb["model_text"] = str(arrays["comb__model_text"])
        if "comb__bag_texts" in arrays:
            comb["bag_texts"] = [str(t) for t in np.asarray(arrays["comb__bag_texts"]).ravel()]
        for key in _ARRAYS:
            if f"comb__{key}" in arrays:
                comb[key] = np.asarray(arrays[f"comb__{key}"])
        self.combiner_ = comb
