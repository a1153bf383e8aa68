"""Transformer pieces for the sequential models: pre-norm blocks on ``scaled_dot_product_attention``
with learned or rotary (RoPE, Su et al. 2021) positions.

Sequences are right-aligned and left-padded (``HistoryBatch.padded``), so the newest item is
always at the last column. ``attention_mask`` builds the (B, 1, L, L) boolean mask (True =
may attend): causal or bidirectional, padded keys hidden, and every position sees itself so no
row is empty.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def attention_mask(pad: torch.Tensor, causal: bool) -> torch.Tensor:
    """(B, L) padding flags -> (B, 1, L, L) bool mask, True where query i may attend key j."""
    import torch

    length = pad.shape[1]
    allowed = ~pad[:, None, :]  # (B, 1, L): keys that are real items
    if causal:
        allowed = allowed & torch.ones(length, length, dtype=torch.bool, device=pad.device).tril()[None]
    allowed = allowed | torch.eye(length, dtype=torch.bool, device=pad.device)[None]
    return allowed[:, None]


def rope_tables(length: int, dim: int, device: torch.device, base: float = 10000.0) -> tuple:
    """(cos, sin), each (L, dim/2): rotation angles for positions 0..L-1."""
    import torch

    inv = 1.0 / (base ** (torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim))
    ang = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv[None]
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, L, D) queries/keys pairwise by position."""
    import torch

    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2).type_as(x)


@cache
def block_classes() -> tuple[type, type]:
    """(Block, Encoder), built on first use so that importing the models does not import torch."""
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    class Block(nn.Module):
        """Pre-norm self-attention + GELU feed-forward, residual dropout."""

        def __init__(self, hidden: int, heads: int, dropout: float) -> None:
            super().__init__()
            self.heads, self.p = heads, dropout
            self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.proj = nn.Linear(hidden, hidden)
            self.ff = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Dropout(dropout),
                                    nn.Linear(4 * hidden, hidden))
            self.drop = nn.Dropout(dropout)

        def forward(self, x: torch.Tensor, mask: torch.Tensor, rope: tuple | None) -> torch.Tensor:
            b, length, d = x.shape
            q, k, v = self.qkv(self.norm1(x)).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            if rope is not None:
                q, k = apply_rope(q, *rope), apply_rope(k, *rope)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0)
            x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, length, d)))
            return x + self.drop(self.ff(self.norm2(x)))

    class Encoder(nn.Module):
        """Stack of ``Block``s + final LayerNorm; positions are "learned" (added to the input) or "rope"."""

        def __init__(self, hidden: int, heads: int, layers: int, dropout: float, max_len: int,
                     positions: str, causal: bool) -> None:
            super().__init__()
            self.causal, self.rope = causal, positions == "rope"
            self.head_dim = hidden // heads
            self.pos_emb = None if self.rope else nn.Embedding(max_len, hidden)
            if self.pos_emb is not None:
                nn.init.normal_(self.pos_emb.weight, std=hidden ** -0.5)
            self.drop = nn.Dropout(dropout)
            self.blocks = nn.ModuleList(Block(hidden, heads, dropout) for _ in range(layers))
            self.norm = nn.LayerNorm(hidden)

        def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
            """(B, L, hidden) item vectors + (B, L) padding flags -> (B, L, hidden), zero at padding."""
            length = x.shape[1]
            rope = None
            if self.pos_emb is not None:
                offset = self.pos_emb.num_embeddings - length  # right-aligned: the newest item is the last slot
                x = x + self.pos_emb.weight[offset:][None]
            else:
                rope = rope_tables(length, self.head_dim, x.device)
            mask = attention_mask(pad, self.causal)
            h = self.drop(x)
            for block in self.blocks:
                h = block(h, mask, rope)
            return self.norm(h) * (~pad)[..., None]

    return Block, Encoder
