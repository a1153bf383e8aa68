"""SASRec (Kang & McAuley 2018): causal self-attention over a user's last ``max_len`` items.

Input: right-aligned sequences from ``HistoryBatch.padded(max_len, pad=n_items)`` (item index
``n_items`` is padding, ``n_items + 1`` the CL4SRec mask token). Item embeddings (+ learned or
rotary positions) -> pre-norm causal Transformer blocks -> final LayerNorm. Scores = last
hidden state @ item embeddings.T (tied).

Training data: every user's full history in overlapping windows (``windows="all"``) or only
its newest window (``"newest"``, the classic setup). Losses (``loss``):
- "ce": full softmax cross-entropy over all items at every position (SASRec+, Klenitskiy &
  Vasilev 2023), optionally label-smoothed;
- "sce": softmax cross-entropy over the positive and ``negatives`` uniformly sampled items
  shared by the batch (an accidental hit of the positive is masked): most of "ce"'s accuracy
  at a fraction of its cost on a large catalogue;
- "bce": one uniformly sampled negative per position (the original SASRec);
- "gbce": gSASRec (Petrov & Macdonald 2023): ``negatives`` samples, positive probability
  raised to beta = alpha (t (1 - 1/alpha) + 1/alpha), alpha = negatives / (n_items - 1).
Options: ``contrastive_weight`` adds CL4SRec's InfoNCE between two augmented views of each
sequence; ``genre_weight`` adds a multi-task head predicting the next item's genres, with
``uncertainty`` weighting (Kendall et al. 2018) of the two tasks when enabled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pydantic

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.neural import seqdata
from cinesync.models.neural.blocks import block_classes
from cinesync.models.neural.common import NeuralConfig, TorchRecommender, init_items_from_svd, module_device
from cinesync.models.registry import register

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

SCORE_CHUNK = 256


class SASRecConfig(NeuralConfig):
    """Architecture, loss and options; the optimiser settings come from ``NeuralConfig``."""

    max_len: int = pydantic.Field(200, ge=1)
    hidden: int = pydantic.Field(64, ge=1)
    layers: int = pydantic.Field(2, ge=1)
    heads: int = pydantic.Field(1, ge=1)
    dropout: float = pydantic.Field(0.3, ge=0.0, lt=1.0)
    positions: Literal["learned", "rope"] = "learned"
    #: item embeddings start random, or from the truncated SVD of the training user-item matrix
    item_init: Literal["random", "svd"] = "svd"
    windows: Literal["all", "newest"] = "all"
    loss: Literal["ce", "sce", "bce", "gbce"] = "ce"
    label_smoothing: float = pydantic.Field(0.0, ge=0.0, lt=1.0)
    negatives: int = pydantic.Field(128, ge=1)
    #: how "sce" draws its negatives: uniformly, or by popularity^0.75 with the log-Q correction
    negative_sampling: Literal["uniform", "popular"] = "uniform"
    gbce_t: float = pydantic.Field(0.75, ge=0.0, le=1.0)
    contrastive_weight: float = pydantic.Field(0.0, ge=0.0)
    contrastive_temperature: float = pydantic.Field(0.2, gt=0.0)
    augment_ratios: tuple[float, float, float] = (0.6, 0.3, 0.6)  # crop, mask, reorder
    genre_weight: float = pydantic.Field(0.0, ge=0.0)
    uncertainty: bool = False
    batch_size: int = pydantic.Field(32, ge=1)
    epochs: int = pydantic.Field(30, ge=1)
    lr: float = pydantic.Field(2e-3, gt=0.0)
    patience: int | None = pydantic.Field(3, ge=1)
    eval_every: int = pydantic.Field(2, ge=1)

    def checks(self) -> None:
        if self.hidden % self.heads:
            raise ValueError(f"hidden={self.hidden} must be divisible by heads={self.heads}")
        if self.positions == "rope" and (self.hidden // self.heads) % 2:
            raise ValueError("rotary positions need an even head size (hidden / heads)")


@cache
def module_class() -> type:
    """``SASRecModule`` (built on first use so that importing the registry does not import torch)."""
    import torch
    from torch import nn

    _, encoder_class = block_classes()

    class SASRecModule(nn.Module):
        """(batch, L) item indices -> (batch, L, hidden) states; ``n_items`` is the padding index."""

        def __init__(self, n_items: int, n_genres: int, cfg: SASRecConfig) -> None:
            super().__init__()
            self.n_items = n_items
            self.item_emb = nn.Embedding(n_items + 2, cfg.hidden, padding_idx=n_items)
            nn.init.normal_(self.item_emb.weight, std=cfg.hidden ** -0.5)
            with torch.no_grad():
                self.item_emb.weight[n_items].zero_()
            self.encoder = encoder_class(cfg.hidden, cfg.heads, cfg.layers, cfg.dropout, cfg.max_len,
                                         cfg.positions, causal=True)
            self.genre_head = nn.Linear(cfg.hidden, n_genres) if n_genres else None
            self.log_vars = nn.Parameter(torch.zeros(2)) if n_genres and cfg.uncertainty else None

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            return self.encoder(self.item_emb(seq), seq == self.n_items)

        def item_weights(self) -> torch.Tensor:
            """(n_items, hidden) output embeddings (tied with the input ones, padding and mask rows dropped)."""
            return self.item_emb.weight[: self.n_items]

    return SASRecModule


@register
class SASRec(TorchRecommender):
    """Self-attentive sequential recommender over time-ordered histories."""

    name = "sasrec"
    config_class = SASRecConfig
    #: no grid by default: each fit takes ~10 min on 2 cores for the bundled data; the defaults
    #: were chosen on the bundled data's validation split (see the README)
    tune_grid: ClassVar[dict[str, list]] = {}

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._genres: torch.Tensor | None = None  # (n_items, n_genres) multi-hot, training only
        self._log_q: torch.Tensor | None = None  # (n_items,) log sampling probabilities, training only

    def _dims(self, train: Interactions) -> dict[str, int]:
        n_genres = train.catalog.genre_matrix.shape[1] if self.config.genre_weight > 0 else 0
        return {"n_items": train.n_items, "n_genres": n_genres}

    def _build(self, dims: dict[str, int]) -> nn.Module:
        return module_class()(dims["n_items"], dims.get("n_genres", 0), self.config)

    def _init_module(self, module: nn.Module, train: Interactions) -> None:
        """``item_init="svd"``: item vectors start from ``svd_item_vectors`` of the training matrix."""
        if self.config.item_init != "svd":
            return
        init_items_from_svd(module.item_emb.weight, train, self.config.hidden)

    def _batches(self, train: Interactions, device: torch.device) -> Callable[[np.random.Generator], list]:
        import torch

        cfg, n_items = self.config, train.n_items
        wins = seqdata.windows(train.histories(), cfg.max_len + 1, newest_only=cfg.windows == "newest")
        seqs = torch.from_numpy(wins.padded(cfg.max_len + 1, pad=n_items))
        inputs, targets = seqs[:, :-1].contiguous(), seqs[:, 1:].contiguous()
        if cfg.loss == "sce" and cfg.negative_sampling == "popular":
            q = train.item_counts().astype(np.float64) ** 0.75 + 1e-3
            self._log_q = torch.from_numpy(np.log(q / q.sum())).float().to(device)
        if self.dims_.get("n_genres"):
            self._genres = torch.from_numpy(train.catalog.genre_matrix.toarray()).to(device)
        log.info("sasrec: %d training windows (%s) over %d users, %d items, loss %s", len(inputs), cfg.windows,
                 train.n_users, n_items, cfg.loss)

        def batches(rng: np.random.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
            order = torch.from_numpy(rng.permutation(len(inputs)))
            return [(inputs[idx].to(device), targets[idx].to(device)) for idx in order.split(cfg.batch_size)]

        return batches

    # ---- losses --------------------------------------------------------------
    def _loss(self, module: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mean next-item loss over the non-padded target positions (+ the optional auxiliary losses)."""
        inp, tgt = batch
        keep = tgt != module.n_items
        states = module(inp)
        h = states[keep]  # (N, hidden)
        loss = self._next_item_loss(module, h, tgt[keep])
        cfg = self.config
        if module.genre_head is not None:
            loss = self._with_genres(module, loss, h, tgt[keep])
        if cfg.contrastive_weight > 0:
            loss = loss + cfg.contrastive_weight * self._contrastive(module, inp)
        return loss

    def _next_item_loss(self, module: nn.Module, h: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F  # noqa: N812

        cfg, n_items = self.config, module.n_items
        w = module.item_weights()
        if cfg.loss == "ce":
            return F.cross_entropy((h @ w.T).float(), pos, label_smoothing=cfg.label_smoothing)
        if cfg.loss == "sce":  # softmax over the positive + negatives shared by the batch
            logits, neg = self._sampled_logits(h, w, pos)
            hit = torch.cat([torch.zeros_like(pos, dtype=torch.bool)[:, None], neg[None] == pos[:, None]], 1)
            logp = torch.log_softmax(logits.masked_fill(hit, float("-inf")), dim=1)
            smooth = -logp.masked_fill(hit, 0.0).sum(1) / (~hit).sum(1)  # label smoothing over real candidates
            return ((1 - cfg.label_smoothing) * -logp[:, 0] + cfg.label_smoothing * smooth).mean()
        k = 1 if cfg.loss == "bce" else cfg.negatives
        neg = torch.randint(0, n_items, (len(pos), k), device=pos.device)
        pos_logit = (h * w[pos]).sum(-1).float()
        neg_logit = torch.einsum("nd,nkd->nk", h, w[neg]).float()
        beta = 1.0
        if cfg.loss == "gbce":
            alpha = k / max(n_items - 1, 1)
            beta = alpha * (cfg.gbce_t * (1.0 - 1.0 / alpha) + 1.0 / alpha)
        return -(beta * F.logsigmoid(pos_logit)).mean() - F.logsigmoid(-neg_logit).sum(-1).mean()

    def _sampled_logits(self, h: torch.Tensor, w: torch.Tensor, pos: torch.Tensor) -> tuple:
        """(N, 1 + negatives) logits (positive first) and the (negatives,) sampled items; popularity
        sampling subtracts log q(item) from every logit so the softmax stays unbiased."""
        import torch

        k = self.config.negatives
        if self._log_q is None:
            neg = torch.randint(0, w.shape[0], (k,), device=pos.device)
            return torch.cat([(h * w[pos]).sum(-1, keepdim=True), h @ w[neg].T], dim=1).float(), neg
        neg = torch.multinomial(self._log_q.exp(), k, replacement=True)
        logits = torch.cat([(h * w[pos]).sum(-1, keepdim=True), h @ w[neg].T], dim=1).float()
        return logits - torch.cat([self._log_q[pos][:, None], self._log_q[neg][None].expand(len(pos), -1)], 1), neg

    def _with_genres(self, module: nn.Module, main: torch.Tensor, h: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Add the next item's genre prediction (multi-label BCE), fixed or uncertainty-weighted."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        assert self._genres is not None
        aux = F.binary_cross_entropy_with_logits(module.genre_head(h).float(), self._genres[pos])
        if module.log_vars is None:
            return main + self.config.genre_weight * aux
        s = module.log_vars
        return torch.exp(-s[0]) * main + s[0] + self.config.genre_weight * (torch.exp(-s[1]) * aux + s[1])

    def _contrastive(self, module: nn.Module, inp: torch.Tensor) -> torch.Tensor:
        """CL4SRec InfoNCE: two augmented views of each sequence, other rows of the batch as negatives."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        cfg, pad = self.config, module.n_items
        views = [seqdata.augment(inp, pad, pad + 1, cfg.augment_ratios) for _ in range(2)]
        z1, z2 = (F.normalize(module(v)[:, -1], dim=-1) for v in views)
        logits = z1 @ z2.T / cfg.contrastive_temperature
        labels = torch.arange(len(z1), device=z1.device)
        return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))

    # ---- score -------------------------------------------------------------
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
