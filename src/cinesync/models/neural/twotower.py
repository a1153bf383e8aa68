"""Two-tower retrieval: user tower (attention pooling over the history) x item tower (id + genres
+ year + optional text vectors); scores = user_embeddings @ item_embeddings.T (see ``towers``).

Training pairs, rebuilt every epoch from the last ``max_len`` training items of each user
(every item of that window is a target once per epoch, in random order):
- ``pairs="holdout"``: the window minus the target -> target (suits random-order splits);
- ``pairs="next"``: the items before the target -> target (suits leave-last-out).

Loss: in-batch sampled softmax at ``temperature``. With ``logq`` each column's logit is reduced
by the log of its expected count in a batch (B * q_item, q_item = the item's share of the
epoch's targets: the log-Q correction of Yi et al. 2019). In-batch copies of the row's positive
and in-batch items the row already sees in its history are masked (they are positives).
``hard_negatives`` = K extra negatives per pair, drawn uniformly (with replacement) from the
user's ``hard_pool`` top-scored unseen items under the current model, mined once at the start
of every epoch (full-catalogue scoring of the training users; their log-Q correction is
log(K / hard_pool), the expected count of a pool item). ``contrastive_weight`` adds InfoNCE
between two item-drop views (each visible item kept w.p. 1 - ``augment_drop``) of each history
through the user tower (dropout on), other pairs of the same user masked.
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
from cinesync.errors import ConfigError, NotFittedError
from cinesync.models.base import FitContext
from cinesync.models.neural.common import NeuralConfig, TorchRecommender, module_device
from cinesync.models.neural.towers import (
    check_text_vectors,
    info_nce,
    item_features,
    module_class,
    sampled_softmax_loss,
)
from cinesync.models.registry import register

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
    hard_negatives: int = pydantic.Field(0, ge=0)  # extra mined negatives per pair (0 = off)
    hard_pool: int = pydantic.Field(100, ge=1)  # mined from the user's top-N unseen items
    contrastive_weight: float = pydantic.Field(0.0, ge=0.0)  # InfoNCE weight on the user tower (0 = off)
    augment_drop: float = pydantic.Field(0.3, ge=0.0, lt=1.0)  # item-drop rate of the contrastive views
    text_vectors: str | None = None  # .npy (n_items, d) aligned to item indices; or FitContext.extra["item_vectors"]
    epochs: int = pydantic.Field(30, ge=1)
    batch_size: int = pydantic.Field(256, ge=2)


class _Tables(NamedTuple):
    """Per-fit training tensors shared by every batch: seq (n_users, L) padded windows,
    log_count (n_items,) log expected in-batch count per item, hard_log_count scalar."""

    seq: Any
    log_count: Any
    hard_log_count: float


class _Batch(NamedTuple):
    tables: _Tables
    rows: Any  # (B,) user rows of ``tables.seq``
    cols: Any  # (B,) target column in that row
    negs: Any  # (B, K) mined negatives (-1 = none) or None


@register
class TwoTower(TorchRecommender):
    """Two-tower retrieval model with in-batch softmax, log-Q, mined negatives and contrastive views."""

    name = "twotower"
    config_class = TwoTowerConfig
    tune_grid: ClassVar[dict[str, list]] = {"temperature": [0.05, 0.1], "pairs": ["holdout", "next"]}

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._features: dict[str, np.ndarray] | None = None
        self._item_vectors: Any = None

    # ---- the TorchRecommender pieces ------------------------------------------
    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        self._item_vectors = ctx.extra.get("item_vectors")
        try:
            super()._fit(train, ctx)
        finally:
            self._item_vectors, self._features = None, None

    def _dims(self, train: Interactions) -> dict[str, int]:
        text = None
        if self._item_vectors is not None and self.config.text_vectors is not None:
            raise ConfigError("twotower: pass text vectors either as config text_vectors or as "
                              "FitContext.extra['item_vectors'], not both")
        if self._item_vectors is not None:
            text = check_text_vectors(self._item_vectors, train.n_items, "FitContext.extra['item_vectors']")
        elif self.config.text_vectors is not None:
            text = check_text_vectors(np.load(self.config.text_vectors), train.n_items, self.config.text_vectors)
        self._features = item_features(train.catalog, text)
        return {"n_items": train.n_items, "n_genres": self._features["genres"].shape[1],
                "text_dim": 0 if text is None else text.shape[1]}

    def _build(self, dims: dict[str, int]) -> nn.Module:
        module = module_class()(dims, self.config)
        if self._features is not None:  # fitting; on load the buffers come from the saved state
            module.set_features(self._features)
        return module

    def _batches(self, train: Interactions, device: torch.device) -> Callable[[np.random.Generator], list]:
        import torch

        cfg, n = self.config, train.n_items
        seq = train.histories().padded(cfg.max_len, pad=n)
        valid = seq != n
        lens = valid.sum(axis=1)
        if cfg.pairs == "holdout":
            ok = valid & (lens >= 2)[:, None]
        else:  # the window's first item has no earlier item to predict it from
            ok = valid & (np.arange(cfg.max_len)[None, :] > (cfg.max_len - lens)[:, None])
        rows, cols = np.nonzero(ok)
        if len(rows) == 0:
            raise ValueError("twotower: no training pairs (every user has fewer than 2 items)")
        counts = np.bincount(seq[rows, cols], minlength=n).astype(np.float64)
        batch = min(cfg.batch_size, len(rows))
        log_count = np.log(np.maximum(counts * batch / len(rows), 1e-12))
        k, pool = cfg.hard_negatives, min(cfg.hard_pool, n)
        tables = _Tables(torch.from_numpy(seq).to(device), torch.from_numpy(log_count).float().to(device),
                         math.log(k / pool) if k else 0.0)
        seen = train.csr() if k else None
        rows_t, cols_t = torch.from_numpy(rows), torch.from_numpy(cols)
        log.info("twotower: %d pairs (%s) from %d users, %d items, %d hard negatives", len(rows), cfg.pairs,
                 int((lens > 0).sum()), n, k)

        def batches(rng: np.random.Generator) -> list[_Batch]:
            order = torch.from_numpy(rng.permutation(len(rows)))
            negs = None
            if k:
                cand, cand_ok = self._mine(tables.seq, seen, pool)
                pick = rng.integers(0, pool, size=(len(rows), k))
                negs = np.where(cand_ok[rows[:, None], pick], cand[rows[:, None], pick], -1)
                negs = torch.from_numpy(negs)
            return [_Batch(tables, rows_t[idx].to(device), cols_t[idx].to(device),
                           None if negs is None else negs[idx].to(device))
                    for idx in order.split(cfg.batch_size)]

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
                u = module.users(chunk, chunk != module.n_items, base)
                scores = (u @ v.T).float()
                block = torch.from_numpy(seen[s:s + SCORE_CHUNK].toarray() > 0).to(scores.device)
                top = scores.masked_fill(block, float("-inf")).topk(pool, dim=1)
                cand.append(top.indices.cpu().numpy())
                ok.append(torch.isfinite(top.values).cpu().numpy())
        module.train(was_training)
        return np.concatenate(cand), np.concatenate(ok)

    def _loss(self, module: nn.Module, batch: _Batch) -> torch.Tensor:
        import torch

        cfg, n = self.config, module.n_items
        seq = batch.tables.seq[batch.rows]  # (B, L)
        ar = torch.arange(seq.shape[1], device=seq.device)
        target = seq[torch.arange(len(seq), device=seq.device), batch.cols]
        hide = ar[None, :] == batch.cols[:, None] if cfg.pairs == "holdout" else ar[None, :] >= batch.cols[:, None]
        visible = (seq != n) & ~hide
        base = module.item_base()
        u = module.users(seq, visible, base)
        v = module.items(base, target)
        # in-batch items this row already sees are positives, not negatives: (B, n_items + 1) one-hot
        onehot = torch.zeros(len(seq), n + 1, dtype=torch.bool, device=seq.device)
        onehot.scatter_(1, seq.masked_fill(~visible, n), True)
        hard = None if batch.negs is None else module.items(base, batch.negs.clamp(min=0))
        loss = sampled_softmax_loss(
            u, v, target, cfg.temperature, batch.tables.log_count[target] if cfg.logq else None,
            block=onehot[:, target], hard=hard, hard_ok=None if batch.negs is None else batch.negs >= 0,
            hard_log_count=batch.tables.hard_log_count)
        if cfg.contrastive_weight > 0:
            u1 = module.users(seq, visible & (torch.rand(seq.shape, device=seq.device) >= cfg.augment_drop), base)
            u2 = module.users(seq, visible & (torch.rand(seq.shape, device=seq.device) >= cfg.augment_drop), base)
            same_user = batch.rows[:, None] == batch.rows[None, :]
            loss = loss + cfg.contrastive_weight * info_nce(u1, u2, cfg.temperature, same_user)
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
