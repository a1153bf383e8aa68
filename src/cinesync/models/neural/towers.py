"""The two towers of ``twotower`` and its losses (torch imported on first use).

Item tower: named feature blocks, each projected to ``d`` and fused into ``base`` (n_items, d);
output = base + MLP(base), L2-normalised when asked. Blocks:
- "id": a learned embedding per item;
- "meta": genre multi-hot (mean of its genre vectors) + normalised year + normalised runtime when
  the catalogue has one (missing -> zero + "unknown" flag, whose weight column is a learned vector);
- "text": a given text vector per item (e.g. a sentence embedding of title, genres, tags, overview);
- "vectors:NAME": user-supplied vectors (posters, audio, ...) + a "missing" flag column.
Fusion (``fusion``): "sum" of the projected blocks; "concat" -> linear (initialised as the sum);
"gate": per-item, per-block gates 2 * sigmoid(linear(concat)), initialised at 1 (= the sum);
"attention": the blocks are tokens (+ a learned block-type vector), a learned query attends over
them and the pooled token is scaled by the block count (uniform attention = the sum). Every mode
starts as the sum and learns how to depart from it.

User tower: a learned query per head attends over the history's ``base`` vectors (keys add a
recency embedding, 0 = most recent visible item; padding and hidden items masked) plus a learned
"null" slot every row can attend to, so an empty history pools to a learned default instead of
NaN. Heads are concatenated -> linear -> x + MLP(x), L2-normalised when asked.

The block inputs are registered buffers, so they travel in the module's state (saved with the
model; a fresh process needs neither the text encoder nor the vector files to load it).
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cinesync.data.dataset import ItemCatalog

if TYPE_CHECKING:
    import torch

FUSIONS = ("sum", "concat", "gate", "attention")
FIXED_BLOCKS = ("id", "meta", "text")
VECTOR_PREFIX = "vectors:"


def block_key(block: str) -> str:
    """Buffer / projection name of a block: "meta" -> "meta", "vectors:poster" -> "vec_poster"."""
    return "vec_" + block[len(VECTOR_PREFIX):] if block.startswith(VECTOR_PREFIX) else block


def _z_with_flag(values: np.ndarray) -> np.ndarray:
    """(n,) numbers with NaN for unknown -> (n, 2) float32 [z-score or 0, 1 if unknown]."""
    missing = ~np.isfinite(values)
    known = values[~missing]
    mean, std = (known.mean(), known.std()) if len(known) else (0.0, 1.0)
    z = np.where(missing, 0.0, (values - mean) / (std if std > 0 else 1.0))
    return np.stack([z, missing.astype(np.float64)], axis=1).astype(np.float32)


def _numeric(catalog: ItemCatalog, name: str) -> np.ndarray:
    values = pd.to_numeric(pd.Series(catalog.column(name), dtype="object"), errors="coerce")
    return values.to_numpy(np.float64, na_value=np.nan)


def item_features(catalog: ItemCatalog, text: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Item-side inputs, aligned to item indices.

    genres: (n_items, n_genres) float32 multi-hot divided by the item's genre count (mean of its
    genre vectors); year: (n_items, 2) float32 [z-scored year or 0, 1 if the year is missing];
    runtime: (n_items, 2) the same for the runtime, only when the catalogue has a runtime column;
    text: (n_items, d_text) float32 when given.
    """
    n = len(catalog)
    g = np.asarray(catalog.genre_matrix.todense(), np.float32).reshape(n, -1)
    g /= np.maximum(g.sum(axis=1, keepdims=True), 1.0)
    out = {"genres": g, "year": _z_with_flag(_numeric(catalog, "year"))}
    if "runtime" in catalog.frame.columns:
        out["runtime"] = _z_with_flag(_numeric(catalog, "runtime"))
    if text is not None:
        out["text"] = np.asarray(text, np.float32)
    return out


def meta_features(catalog: ItemCatalog) -> np.ndarray:
    """(n_items, n_genres + 2 [+ 2]) float32 "meta" block: genres | year, year-unknown [| runtime, unknown]."""
    f = item_features(catalog)
    return np.concatenate([f[k] for k in ("genres", "year", "runtime") if k in f], axis=1)


def check_text_vectors(vectors: Any, n_items: int, source: str) -> np.ndarray:
    """(n_items, d) finite float32 matrix, or a ValueError naming ``source`` and the expected shape."""
    arr = np.asarray(vectors)
    if arr.ndim != 2 or arr.shape[0] != n_items or arr.shape[1] < 1:
        raise ValueError(f"twotower: text vectors from {source} have shape {arr.shape}, expected "
                         f"({n_items}, d): one row per item index of the training data")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"twotower: text vectors from {source} hold NaN or inf values")
    return arr


def sampled_softmax_loss(u: torch.Tensor, v: torch.Tensor, items: torch.Tensor, temperature: float,
                         row: torch.Tensor | None = None, log_count: torch.Tensor | None = None,
                         block: torch.Tensor | None = None, hard: torch.Tensor | None = None,
                         hard_ok: torch.Tensor | None = None, hard_log_count: float = 0.0) -> torch.Tensor:
    """In-batch sampled softmax over T targets; target t's positive is column t, its query is u[row[t]].

    u: (R, d) query (user) vectors; v: (T, d) target item vectors; items: (T,) target item indices
    (in-batch copies of target t's item are masked); row: (T,) query row of each target (None:
    R == T, row t); log_count: (T,) log of each column item's expected count in a batch (log-Q
    correction, subtracted from every column; None = off); block: (T, T) extra bool mask of
    columns that are not negatives for the target (diagonal ignored); hard: (T, K, d) extra
    negatives with validity ``hard_ok`` (T, K) and correction ``hard_log_count`` (only with log_count).
    """
    import torch
    import torch.nn.functional as F  # noqa: N812

    logits = (u @ v.T).float() / temperature  # (R, T)
    q = u if row is None else u[row]
    if row is not None:
        logits = logits[row]
    if log_count is not None:
        logits = logits - log_count.float()[None, :]
    eye = torch.eye(len(items), dtype=torch.bool, device=items.device)
    mask = items[:, None] == items[None, :]
    if block is not None:
        mask = mask | block
    logits = logits.masked_fill(mask & ~eye, float("-inf"))
    if hard is not None:
        h = torch.einsum("td,tkd->tk", q, hard).float() / temperature
        if log_count is not None:
            h = h - hard_log_count
        if hard_ok is not None:
            h = h.masked_fill(~hard_ok, float("-inf"))
        logits = torch.cat([logits, h], dim=1)
    return F.cross_entropy(logits, torch.arange(len(items), device=items.device))


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float, block: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE between two views (B, d): row i of ``a`` matches row i of ``b``.
    ``block`` (B, B) masks off-diagonal pairs that are not negatives (e.g. the same user)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    logits = (a @ b.T).float() / temperature
    if block is not None:
        eye = torch.eye(len(a), dtype=torch.bool, device=a.device)
        logits = logits.masked_fill(block & ~eye, float("-inf"))
    target = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


@cache
def module_class() -> type:
    """``TwoTowerModule``, built on first use so importing the registry does not import torch."""
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    def mlp(d: int, hidden: int, dropout: float) -> nn.Module:
        return nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, d))

    class TwoTowerModule(nn.Module):
        """dims: n_items + ``{block_key}_dim`` input width of every feature block; cfg: dim, hidden,
        heads, max_len, recency, dropout, normalize, fusion; blocks: the item tower's blocks in order."""

        def __init__(self, dims: dict[str, int], cfg: Any, blocks: list[str]) -> None:
            super().__init__()
            n, d = dims["n_items"], cfg.dim
            self.n_items, self.dim, self.normalize = n, d, cfg.normalize
            self.blocks, self.fusion = list(blocks), cfg.fusion
            self.item_emb = None
            self.proj = nn.ModuleDict()
            for block in self.blocks:
                if block == "id":
                    self.item_emb = nn.Embedding(n, d)
                    nn.init.normal_(self.item_emb.weight, std=d ** -0.5)
                    continue
                key = block_key(block)
                width = dims[f"{key}_dim"]
                self.register_buffer(key, torch.zeros(n, width))
                self.proj[key] = nn.Linear(width, d, bias=False)
            self._build_fusion(len(self.blocks), d)
            self.item_mlp = mlp(d, cfg.hidden, cfg.dropout)
            self.pos_emb = nn.Embedding(cfg.max_len, d) if cfg.recency else None
            if self.pos_emb is not None:
                nn.init.normal_(self.pos_emb.weight, std=d ** -0.5)
            self.query = nn.Parameter(torch.randn(cfg.heads, d) * d ** -0.5)
            self.null = nn.Parameter(torch.randn(d) * d ** -0.5)
            self.user_in = nn.Linear(cfg.heads * d, d)
            self.user_mlp = mlp(d, cfg.hidden, cfg.dropout)
            self.drop = nn.Dropout(cfg.dropout)

        def _build_fusion(self, b: int, d: int) -> None:
            """Fusion parameters, initialised so that every mode starts as the plain sum."""
            self.fuse = self.fuse_key = self.fuse_query = self.block_type = None
            if self.fusion == "concat":
                self.fuse = nn.Linear(b * d, d, bias=False)
                with torch.no_grad():
                    self.fuse.weight.copy_(torch.eye(d).repeat(1, b))
            elif self.fusion == "gate":
                self.fuse = nn.Linear(b * d, b)
                nn.init.zeros_(self.fuse.weight)
                nn.init.zeros_(self.fuse.bias)
            elif self.fusion == "attention":
                self.fuse_key = nn.Linear(d, d, bias=False)
                self.fuse_query = nn.Parameter(torch.zeros(d))
                self.block_type = nn.Parameter(torch.randn(b, d) * 0.01)

        def set_features(self, feats: dict[str, np.ndarray]) -> None:
            """Copy block inputs ({block_key: (n_items, width)}) into the buffers."""
            with torch.no_grad():
                for name, arr in feats.items():
                    getattr(self, name).copy_(torch.from_numpy(np.asarray(arr, np.float32)))

        def block_vectors(self) -> torch.Tensor:
            """(n_items, n_blocks, d) projected blocks, in ``self.blocks`` order."""
            parts = [self.item_emb.weight if b == "id" else self.proj[block_key(b)](getattr(self, block_key(b)))
                     for b in self.blocks]
            return torch.stack(parts, dim=1)

        def fusion_weights(self, tokens: torch.Tensor | None = None) -> torch.Tensor | None:
            """(n_items, n_blocks) per-block weights of "gate" / "attention" (None for sum / concat)."""
            if self.fusion not in ("gate", "attention"):
                return None
            tokens = self.block_vectors() if tokens is None else tokens
            if self.fusion == "gate":
                return 2.0 * torch.sigmoid(self.fuse(tokens.flatten(1)))
            tokens = tokens + self.block_type
            logits = self.fuse_key(tokens) @ self.fuse_query / math.sqrt(self.dim)  # (n, B)
            return torch.softmax(logits, dim=1) * len(self.blocks)

        def item_base(self) -> torch.Tensor:
            """(n_items, d) fused pre-MLP item vectors (also the user tower's history inputs)."""
            tokens = self.block_vectors()
            if self.fusion == "sum":
                return tokens.sum(1)
            if self.fusion == "concat":
                return self.fuse(tokens.flatten(1))
            w = self.fusion_weights(tokens)
            if self.fusion == "attention":
                tokens = tokens + self.block_type
            return (w[..., None] * tokens).sum(1)

        def _out(self, x: torch.Tensor) -> torch.Tensor:
            return F.normalize(x, dim=-1) if self.normalize else x

        def items(self, base: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
            """Item tower output for ``idx`` (any shape; None = all items) -> (*idx.shape, d)."""
            x = base if idx is None else base[idx]
            return self._out(x + self.item_mlp(x))

        def users(self, seq: torch.Tensor, visible: torch.Tensor, base: torch.Tensor,
                  context: torch.Tensor | None = None) -> torch.Tensor:
            """(B, L) item indices (``n_items`` = padding) with (B, L) bool ``visible`` -> (B, d).

            ``context`` is reserved for per-query context features (not implemented yet)."""
            if context is not None:
                raise NotImplementedError("twotower: context features are not implemented yet")
            pad = torch.cat([base, base.new_zeros(1, self.dim)])
            seq = seq.clamp(max=self.n_items)
            # attention logits (h + pos) @ query.T / sqrt(d), gathered from (n_items, H) and (max_len, H) tables
            scale = 1.0 / math.sqrt(self.dim)
            logits = (pad @ self.query.T)[seq]  # (B, L, H)
            if self.pos_emb is not None:  # recency: visible items after this one (0 = most recent)
                rec = (visible.flip(1).long().cumsum(1).flip(1) - 1).clamp(0, self.pos_emb.num_embeddings - 1)
                logits = logits + (self.pos_emb.weight @ self.query.T)[rec]
            logits = (logits * scale).masked_fill(~visible[..., None], float("-inf"))
            null_logit = (self.query @ self.null * scale).expand(len(seq), 1, -1)  # (B, 1, H)
            attn = torch.softmax(torch.cat([null_logit, logits], 1), dim=1)  # (B, L+1, H)
            pooled = attn[:, 0, :, None] * self.null + torch.bmm(attn[:, 1:].transpose(1, 2), F.embedding(seq, pad))
            x = self.drop(self.user_in(pooled.flatten(1)))
            return self._out(x + self.user_mlp(x))

    return TwoTowerModule
