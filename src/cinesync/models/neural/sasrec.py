"""SASRec (Kang & McAuley 2018): causal self-attention over a user's last ``max_len`` items.

Input: right-aligned sequences from ``HistoryBatch.padded(max_len, pad=n_items)`` (item index
``n_items`` is padding). Item + learned positional embeddings -> pre-norm Transformer blocks
with a causal mask (padded keys masked; each position always sees itself, so no row is
fully masked) -> final LayerNorm. Scores = last hidden state @ item embeddings.T.

Losses (``loss``):
- "ce": full softmax cross-entropy over all items at every position (SASRec+, Klenitskiy &
  Vasilev 2023), the default and usually the strongest;
- "bce": one uniformly sampled negative per position (the original SASRec);
- "gbce": gSASRec (Petrov & Macdonald 2023): ``negatives`` samples, positive probability
  raised to beta = alpha (t (1 - 1/alpha) + 1/alpha), alpha = negatives / (n_items - 1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import pydantic

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.neural.common import NeuralConfig, TorchRecommender, module_device
from cinesync.models.registry import register

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

SCORE_CHUNK = 256


class SASRecConfig(NeuralConfig):
    """Architecture and loss; the optimiser settings come from ``NeuralConfig``."""

    max_len: int = pydantic.Field(200, ge=1)
    hidden: int = pydantic.Field(64, ge=1)
    layers: int = pydantic.Field(2, ge=1)
    heads: int = pydantic.Field(1, ge=1)
    dropout: float = pydantic.Field(0.2, ge=0.0, lt=1.0)
    loss: Literal["ce", "bce", "gbce"] = "ce"
    negatives: int = pydantic.Field(128, ge=1)
    gbce_t: float = pydantic.Field(0.75, ge=0.0, le=1.0)
    batch_size: int = pydantic.Field(64, ge=1)

    @pydantic.model_validator(mode="after")
    def _heads_divide_hidden(self) -> SASRecConfig:
        if self.hidden % self.heads:
            raise ValueError(f"hidden={self.hidden} must be divisible by heads={self.heads}")
        return self


@cache
def module_class() -> type:
    """``SASRecModule`` (built on first use so that importing the registry does not import torch:
    torch costs ~2.3 s of ``import cinesync.models``)."""
    import torch
    from torch import nn

    class SASRecModule(nn.Module):
        """(batch, L) item indices -> (batch, L, hidden) states; ``n_items`` is the padding index."""

        def __init__(self, n_items: int, cfg: SASRecConfig) -> None:
            super().__init__()
            self.n_items, self.heads = n_items, cfg.heads
            self.item_emb = nn.Embedding(n_items + 1, cfg.hidden, padding_idx=n_items)
            self.pos_emb = nn.Embedding(cfg.max_len, cfg.hidden)
            self.drop = nn.Dropout(cfg.dropout)
            layer = nn.TransformerEncoderLayer(cfg.hidden, cfg.heads, cfg.hidden * 4, cfg.dropout,
                                               activation="gelu", batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(cfg.hidden)
            for emb in (self.item_emb, self.pos_emb):
                nn.init.normal_(emb.weight, std=cfg.hidden ** -0.5)
            with torch.no_grad():
                self.item_emb.weight[n_items].zero_()

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            b, length = seq.shape
            pos = torch.arange(length, device=seq.device)
            x = self.item_emb(seq) + self.pos_emb(pos)[None]
            pad = seq == self.n_items
            causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=seq.device), 1)
            blocked = causal[None] | pad[:, None, :]
            blocked = blocked & ~torch.eye(length, dtype=torch.bool, device=seq.device)[None]
            mask = torch.zeros(blocked.shape, dtype=x.dtype, device=seq.device).masked_fill(blocked, float("-inf"))
            h = self.encoder(self.drop(x), mask=mask.repeat_interleave(self.heads, dim=0))
            return self.norm(h) * (~pad)[..., None]

        def item_weights(self) -> torch.Tensor:
            """(n_items, hidden) output embeddings (tied with the input ones, padding row dropped)."""
            return self.item_emb.weight[: self.n_items]

    return SASRecModule


@register
class SASRec(TorchRecommender):
    """Self-attentive sequential recommender over time-ordered histories."""

    name = "sasrec"
    config_class = SASRecConfig
    tune_grid: ClassVar[dict[str, list]] = {"dropout": [0.1, 0.3], "lr": [1e-3, 3e-3]}

    def _dims(self, train: Interactions) -> dict[str, int]:
        return {"n_items": train.n_items}

    def _build(self, dims: dict[str, int]) -> nn.Module:
        return module_class()(dims["n_items"], self.config)

    def _batches(self, train: Interactions, device: torch.device) -> Callable[[np.random.Generator], list]:
        import torch

        cfg, n_items = self.config, train.n_items
        seqs = train.histories().padded(cfg.max_len + 1, pad=n_items)
        seqs = torch.from_numpy(seqs[(seqs != n_items).sum(axis=1) >= 2])  # users with a next item
        inputs, targets = seqs[:, :-1].contiguous(), seqs[:, 1:].contiguous()
        log.info("sasrec: %d sequences, %d items, loss %s", len(inputs), n_items, cfg.loss)

        def batches(rng: np.random.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
            order = torch.from_numpy(rng.permutation(len(inputs)))
            return [(inputs[idx].to(device), targets[idx].to(device)) for idx in order.split(cfg.batch_size)]

        return batches

    def _loss(self, module: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mean loss over the non-padded target positions of a (B, L) batch."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        inp, tgt = batch
        cfg, n_items = self.config, module.n_items
        keep = tgt != n_items
        h = module(inp)[keep]  # (N, hidden)
        pos = tgt[keep]
        w = module.item_weights()
        if cfg.loss == "ce":
            return F.cross_entropy((h @ w.T).float(), pos)
        k = 1 if cfg.loss == "bce" else cfg.negatives
        neg = torch.randint(0, n_items, (len(pos), k), device=pos.device)
        pos_logit = (h * w[pos]).sum(-1).float()
        neg_logit = torch.einsum("nd,nkd->nk", h, w[neg]).float()
        beta = 1.0
        if cfg.loss == "gbce":
            alpha = k / max(n_items - 1, 1)
            beta = alpha * (cfg.gbce_t * (1.0 - 1.0 / alpha) + 1.0 / alpha)
        return -(beta * F.logsigmoid(pos_logit)).mean() - F.logsigmoid(-neg_logit).sum(-1).mean()

    def _score_with(self, module: nn.Module, batch: HistoryBatch) -> np.ndarray:
        """(n, n_items) float32: last hidden state @ item embeddings.T, in user chunks."""
        import torch

        dev = module_device(module)
        out = np.empty((len(batch), module.n_items), np.float32)
        seqs = batch.padded(self.config.max_len, pad=module.n_items)
        w = module.item_weights()
        for s in range(0, len(batch), SCORE_CHUNK):
            h = module(torch.from_numpy(seqs[s:s + SCORE_CHUNK]).to(dev))[:, -1]
            out[s:s + SCORE_CHUNK] = (h @ w.T).float().cpu().numpy()
        return out
