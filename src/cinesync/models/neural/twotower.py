"""Two-tower retrieval: user tower (attention pooling over the history) x item tower (named feature
blocks "id", "meta", "text", "vectors:NAME" fused by "sum" / "concat" / "gate" / "attention");
scores = user_embeddings @ item_embeddings.T (see ``towers``; where each block's input comes from:
``itemblocks``). ``blocks`` None = "id" + "meta", + "text" when text vectors are given. Every block
input is a module buffer, so a saved model scores without the text encoder or the vector files.

Training rows, rebuilt every epoch from the last ``max_len`` training items of each user: the
window is split into ``folds`` parts and each (user, part) is one row whose user-tower input is
the items it may see and whose targets are the items of the part, so one user-tower pass serves
many targets and every target gets its own softmax over the batch's targets:
- ``pairs="holdout"``: parts are balanced random folds; a row sees the window minus its fold
  (history minus held-out items -> item; with ``folds >= max_len`` exactly one item is held out);
- ``pairs="next"``: parts are contiguous chunks in time order (random cut offset per epoch); a
  row sees the items before its chunk (prefix -> next items, PinnerFormer-style; with
  ``folds >= max_len`` every chunk is one item, i.e. prefix -> next item). The first chunk has no
  prefix and is no target that epoch.
Every other window item is a target exactly once per epoch.

Loss: in-batch sampled softmax at ``temperature`` over the batch's targets. With ``logq`` each
column's logit is reduced by the log of its expected count in a batch (q_item * mean targets per
batch, q_item = the item's share of window items: the log-Q correction of Yi et al. 2019).
Columns holding an item of the row's own window (in-batch copies of the positive, the user's
other targets and visible items) are masked: they are positives, not negatives.
``hard_negatives`` = K extra negatives per target, drawn uniformly (with replacement) from the
user's ``hard_pool`` top-scored unseen items under the current model, mined once at the start of
every epoch by full-catalogue scoring of the training users (with log-Q their correction is
log(K / hard_pool), the expected count of a pool item). ``contrastive_weight`` adds InfoNCE
between two item-drop views (each visible item kept w.p. 1 - ``augment_drop``) of each row's
history through the user tower (dropout on); rows of the same user are not negatives.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

import numpy as np
import pydantic

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import NotFittedError
from cinesync.models.base import FitContext
from cinesync.models.neural.common import NeuralConfig, TorchRecommender, module_device
from cinesync.models.neural.itemblocks import (
    BlockName,
    VectorFile,
    VectorName,
    block_inputs,
    check_block_config,
    check_blocks,
    resolve_blocks,
    upgrade_state,
)
from cinesync.models.neural.towers import info_nce, module_class, sampled_softmax_loss
from cinesync.models.registry import register
from cinesync.ranking.lists import topk_tensor

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

SCORE_CHUNK = 1024


class TwoTowerConfig(NeuralConfig):
    """Towers, pair sampling and loss; the optimiser settings come from ``NeuralConfig``."""

    dim: int = pydantic.Field(64, ge=1)  # output embedding size of both towers
    hidden: int = pydantic.Field(128, ge=1)  # MLP width in both towers
    heads: int = pydantic.Field(2, ge=1)  # learned attention-pooling queries
    max_len: int = pydantic.Field(200, ge=1)  # last items of a history the user tower reads
    recency: bool = True  # recency embedding on the attention keys
    dropout: float = pydantic.Field(0.1, ge=0.0, lt=1.0)
    normalize: bool = True  # cosine scores (L2-normalised tower outputs)
    temperature: float = pydantic.Field(0.1, gt=0.0)
    logq: bool = True  # log-Q popularity correction of the in-batch logits
    pairs: Literal["holdout", "next"] = "holdout"
    folds: int = pydantic.Field(10, ge=2)  # parts of each window per epoch (rows per user)
    hard_negatives: int = pydantic.Field(0, ge=0)  # extra mined negatives per pair (0 = off)
    hard_pool: int = pydantic.Field(100, ge=1)  # mined from the user's top-N unseen items
    contrastive_weight: float = pydantic.Field(0.0, ge=0.0)  # InfoNCE weight on the user tower (0 = off)
    augment_drop: float = pydantic.Field(0.3, ge=0.0, lt=1.0)  # item-drop rate of the contrastive views
    # item tower blocks: id, meta, text, vectors:NAME, each once (None: id + meta [+ text])
    blocks: list[BlockName] | None = pydantic.Field(None, json_schema_extra={"minItems": 1, "uniqueItems": True})
    fusion: Literal["sum", "concat", "gate", "attention"] = "sum"  # how the projected blocks combine (see ``towers``)
    text_vectors: str | None = None  # .npy (n_items, d) aligned to item indices; or FitContext.item_vectors
    text_model: str | None = None  # sentence-transformers folder for "text" without given vectors (None: default)
    text_cache_dir: str | None = None  # embedding cache for the encoder (None: its default)
    vectors: dict[VectorName, VectorFile] = pydantic.Field(  # NAME -> .npy + ids file
        default_factory=dict, json_schema_extra={"additionalProperties": False})
    epochs: int = pydantic.Field(30, ge=1)
    lr: float = pydantic.Field(3e-3, gt=0.0)
    batch_size: int = pydantic.Field(64, ge=2)  # rows (user, part) per batch; targets per batch vary

    @pydantic.field_validator("blocks")
    @classmethod
    def _known_blocks(cls, blocks: list[str] | None) -> list[str] | None:
        return check_blocks(blocks)

    def checks(self) -> None:
        check_block_config(self)


class _Epoch(NamedTuple):
    """One epoch's training tensors, shared by its batches.

    seq: (n_users, L) padded windows (``n_items`` = padding); part: (n_users, L) fold / chunk id
    of each window item (-1 = padding); log_count: (n_items,) log expected count per batch;
    pool, pool_ok: (n_users, P) mined negatives and their validity (None without hard negatives).
    """

    seq: Any
    part: Any
    log_count: Any
    pool: Any
    pool_ok: Any


class _Batch(NamedTuple):
    epoch: _Epoch
    rows: Any  # (R,) user rows of ``epoch.seq``
    part: Any  # (R,) the part each row predicts


@register
class TwoTower(TorchRecommender):
    """Two-tower retrieval model with in-batch softmax, log-Q, mined negatives and contrastive views."""

    name = "twotower"
    config_class = TwoTowerConfig
    tune_grid: ClassVar[dict[str, list]] = {"temperature": [0.05, 0.1], "pairs": ["holdout", "next"]}

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._features: dict[str, np.ndarray] | None = None
        self._vectors: tuple[Any, dict[str, Any]] = (None, {})

    @property
    def blocks(self) -> list[str]:
        """The item tower's blocks in fusion order (config ``blocks``, or the default for the fitted model)."""
        return resolve_blocks(self.config, self.dims_.get("text_dim", 0) > 0)

    # ---- the TorchRecommender pieces ------------------------------------------
    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        self._vectors = (ctx.item_vectors, ctx.block_vectors)
        try:
            super()._fit(train, ctx)
        finally:
            self._vectors, self._features = (None, {}), None

    def _dims(self, train: Interactions) -> dict[str, int]:
        _, self._features = block_inputs(self.config, train, *self._vectors)
        return {"n_items": train.n_items, **{f"{k}_dim": v.shape[1] for k, v in self._features.items()}}

    def _build(self, dims: dict[str, int]) -> nn.Module:
        self.dims_ = dims
        module = module_class()(dims, self.config, self.blocks)
        if self._features is not None:  # fitting; on load the buffers come from the saved state
            module.set_features(self._features)
        return module

    def _load_state(self, arrays: dict[str, Any]) -> None:
        super()._load_state(upgrade_state(arrays))

    def _batches(self, train: Interactions, device: torch.device) -> Callable[[np.random.Generator], list]:
        import torch

        cfg, n = self.config, train.n_items
        seq = train.histories().padded(cfg.max_len, pad=n)
        valid = seq != n
        lens = valid.sum(axis=1)
        order = np.arange(cfg.max_len)[None, :] - (cfg.max_len - lens)[:, None]  # 0 = oldest window item
        eligible = valid & (lens >= 2)[:, None]
        if not eligible.any():
            raise ValueError("twotower: no training rows (every user has fewer than 2 items)")
        share = np.bincount(seq[eligible], minlength=n) / eligible.sum()
        k, pool = cfg.hard_negatives, min(cfg.hard_pool, n)
        seen = train.csr() if k else None
        seq_t = torch.from_numpy(seq).to(device)
        log.info("twotower: %d users, %d window items, %d items, %s x %d folds, %d hard negatives",
                 int((lens >= 2).sum()), int(eligible.sum()), n, cfg.pairs, cfg.folds, k)

        def batches(rng: np.random.Generator) -> list[_Batch]:
            if cfg.pairs == "holdout":  # balanced random folds: rank of a random key modulo folds
                key = np.where(eligible, rng.random(seq.shape), 2.0)
                part = np.argsort(np.argsort(key, axis=1), axis=1) % cfg.folds
                targets = eligible
            else:  # contiguous chunks, random offset; chunk 0 (no prefix) predicts nothing
                offset = rng.random(len(seq)) * np.maximum(lens, 1) / cfg.folds
                part = np.floor((order + offset[:, None]) * cfg.folds / np.maximum(lens, 1)[:, None]).astype(np.int64)
                targets = eligible & (part >= 1)
            part = np.where(eligible, part, -1)
            users, which = np.nonzero(targets)
            keys = np.unique(users.astype(np.int64) * (cfg.folds + 2) + part[users, which])
            rows, parts = keys // (cfg.folds + 2), keys % (cfg.folds + 2)
            n_batches = -(-len(rows) // cfg.batch_size)
            log_count = np.log(np.maximum(share * targets.sum() / n_batches, 1e-12))
            cand = cand_ok = None
            if k:
                cand, cand_ok = (torch.from_numpy(a).to(device) for a in self._mine(seq_t, seen, pool))
            epoch = _Epoch(seq_t, torch.from_numpy(part).to(device), torch.from_numpy(log_count).float().to(device),
                           cand, cand_ok)
            perm = rng.permutation(len(rows))
            rows_t, parts_t = torch.from_numpy(rows[perm]), torch.from_numpy(parts[perm])
            return [_Batch(epoch, r.to(device), p.to(device))
                    for r, p in zip(rows_t.split(cfg.batch_size), parts_t.split(cfg.batch_size), strict=True)]

        return batches

    def _mine(self, seq: torch.Tensor, seen: Any, pool: int) -> tuple[np.ndarray, np.ndarray]:
        """(n_users, pool) top-scored unseen items per training user under the current module, and
        (n_users, pool) bool "is a real unseen item" (False where a user has fewer unseen items)."""
        import torch

        module = self.module_
        assert module is not None
        was_training = module.training
        module.eval()
        cand, ok = [], []
        with torch.no_grad():
            base = module.item_base()
            v = module.items(base)
            for s in range(0, len(seq), SCORE_CHUNK):
                chunk = seq[s:s + SCORE_CHUNK]
                scores = (module.users(chunk, chunk != module.n_items, base) @ v.T).float()
                block = torch.from_numpy(seen[s:s + SCORE_CHUNK].toarray() > 0).to(scores.device)
                idx, vals = topk_tensor(scores, pool, exclude=block)
                cand.append(idx.cpu().numpy())
                ok.append(torch.isfinite(vals).cpu().numpy())
        module.train(was_training)
        return np.concatenate(cand), np.concatenate(ok)

    def _loss(self, module: nn.Module, batch: _Batch) -> torch.Tensor:
        """Sampled softmax over the batch's targets (+ contrastive term); see the module docstring."""
        import torch

        cfg, n, ep = self.config, module.n_items, batch.epoch
        seq, part = ep.seq[batch.rows], ep.part[batch.rows]  # (R, L)
        p = batch.part[:, None]
        hidden = part == p
        visible = (part >= 0) & ((part < p) if cfg.pairs == "next" else ~hidden)
        row, col = torch.nonzero(hidden, as_tuple=True)  # (T,) targets, row-major
        target = seq[row, col]
        base = module.item_base()
        u = module.users(seq, visible, base)
        v = module.items(base, target)
        window = torch.zeros(len(seq), n + 1, dtype=torch.bool, device=seq.device)
        window.scatter_(1, seq, True)  # the row user's window items are its positives
        hard = hard_ok = None
        if ep.pool is not None:
            pick = torch.randint(0, ep.pool.shape[1], (len(target), cfg.hard_negatives), device=seq.device)
            user = batch.rows[row][:, None]
            hard, hard_ok = module.items(base, ep.pool[user, pick]), ep.pool_ok[user, pick]
        loss = sampled_softmax_loss(
            u, v, target, cfg.temperature, row=row, log_count=ep.log_count[target] if cfg.logq else None,
            block=window[row][:, target], hard=hard, hard_ok=hard_ok,
            hard_log_count=math.log(cfg.hard_negatives / ep.pool.shape[1]) if ep.pool is not None else 0.0)
        if cfg.contrastive_weight > 0:
            views = [module.users(seq, visible & (torch.rand(seq.shape, device=seq.device) >= cfg.augment_drop), base)
                     for _ in range(2)]
            same_user = batch.rows[:, None] == batch.rows[None, :]
            loss = loss + cfg.contrastive_weight * info_nce(*views, cfg.temperature, same_user)
        return loss

    def _score_with(self, module: nn.Module, batch: HistoryBatch) -> np.ndarray:
        """(n, n_items) float32 = user_embeddings(batch) @ item_embeddings().T, in user chunks."""
        base = module.item_base()
        v = module.items(base)
        out = np.empty((len(batch), module.n_items), np.float32)
        for s, u in self._user_chunks(module, batch, base):
            out[s:s + len(u)] = (u @ v.T).float().cpu().numpy()
        return out

    def _user_chunks(self, module: nn.Module, batch: HistoryBatch,
                     base: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield (start row, (chunk, d) user vectors) over ``batch``."""
        import torch

        dev = module_device(module)
        seqs = batch.padded(self.config.max_len, pad=module.n_items)
        for s in range(0, len(batch), SCORE_CHUNK):
            chunk = torch.from_numpy(seqs[s:s + SCORE_CHUNK]).to(dev)
            yield s, module.users(chunk, chunk != module.n_items, base)

    # ---- embeddings for retrieval --------------------------------------------
    def _eval_module(self) -> nn.Module:
        if self.module_ is None:
            raise NotFittedError("model 'twotower' is not fitted: call fit() or load() first")
        return self.module_.eval()

    def item_embeddings(self) -> np.ndarray:
        """(n_items, dim) float32 item tower outputs (an ANN index over these serves retrieval)."""
        import torch

        module = self._eval_module()
        with torch.no_grad():
            return module.items(module.item_base()).float().cpu().numpy()

    def user_embeddings(self, batch: HistoryBatch) -> np.ndarray:
        """(len(batch), dim) float32 user tower outputs; ``score`` = this @ item_embeddings().T."""
        import torch

        module = self._eval_module()
        out = np.empty((len(batch), module.dim), np.float32)
        with torch.no_grad():
            for s, u in self._user_chunks(module, batch, module.item_base()):
                out[s:s + len(u)] = u.float().cpu().numpy()
        return out
