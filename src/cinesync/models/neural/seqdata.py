"""Training sequences for the sequential models, vectorised (no per-user Python loops).

- ``windows``: every user's history cut into overlapping windows of ``length`` items, newest
  first, so that each item after a user's first is a next-item target exactly once (a history
  longer than ``length`` is not truncated to its tail);
- CL4SRec augmentations (Xie et al. 2022) on right-aligned, left-padded (B, L) batches:
  ``crop`` (a random contiguous part), ``mask`` (items replaced by a mask token) and
  ``reorder`` (a random contiguous part shuffled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cinesync.data.history import HistoryBatch

if TYPE_CHECKING:
    import torch


def windows(hist: HistoryBatch, length: int, newest_only: bool = False) -> HistoryBatch:
    """Windows of at most ``length`` items; consecutive windows of a user overlap by one item.

    ``newest_only`` keeps just each user's newest window (the classic SASRec setup). Histories
    shorter than 2 items give no window (nothing to predict).
    """
    n = hist.lengths
    step = max(length - 1, 1)
    per_user = np.where(n >= 2, 1 if newest_only else np.maximum(1, -(-(n - 1) // step)), 0)
    user = np.repeat(np.arange(len(hist)), per_user)
    k = np.arange(per_user.sum()) - np.repeat(np.cumsum(per_user) - per_user, per_user)  # window no. per user
    end = hist.indptr[user + 1] - k * step  # exclusive end, newest window first
    start = np.maximum(end - length, hist.indptr[user])
    lens = end - start
    indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    src = np.repeat(start, lens) + (np.arange(indptr[-1]) - np.repeat(indptr[:-1], lens))
    return HistoryBatch(indptr, hist.items[src], hist.users[user])


def _real(seq: torch.Tensor, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) real-item counts and (B, L) column index."""
    import torch

    n = (seq != pad).sum(1)
    col = torch.arange(seq.shape[1], device=seq.device).expand_as(seq)
    return n, col


def crop(seq: torch.Tensor, pad: int, ratio: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """Keep a random contiguous ``ratio`` of each row's items (at least one), right-aligned."""
    import torch

    length = seq.shape[1]
    n, col = _real(seq, pad)
    c = torch.clamp((n.float() * ratio).floor().long(), min=1)
    c = torch.minimum(c, torch.clamp(n, min=1))
    s = (torch.rand(n.shape, generator=gen, device=seq.device) * (n - c + 1).float()).floor().long()
    j = col - (length - c)[:, None]
    src = (length - n + s)[:, None] + j
    out = torch.gather(seq, 1, src.clamp(0, length - 1))
    return torch.where(j >= 0, out, torch.full_like(seq, pad))


def mask(seq: torch.Tensor, pad: int, mask_token: int, ratio: float,
         gen: torch.Generator | None = None) -> torch.Tensor:
    """Replace each real item by ``mask_token`` with probability ``ratio``."""
    import torch

    hit = (torch.rand(seq.shape, generator=gen, device=seq.device) < ratio) & (seq != pad)
    return torch.where(hit, torch.full_like(seq, mask_token), seq)


def reorder(seq: torch.Tensor, pad: int, ratio: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle a random contiguous ``ratio`` of each row's items."""
    import torch

    length = seq.shape[1]
    n, col = _real(seq, pad)
    r = torch.clamp((n.float() * ratio).floor().long(), min=1)
    r = torch.minimum(r, torch.clamp(n, min=1))
    s = (length - n) + (torch.rand(n.shape, generator=gen, device=seq.device) * (n - r + 1).float()).floor().long()
    inside = (col >= s[:, None]) & (col < (s + r)[:, None])
    key = torch.where(inside, s[:, None] + torch.rand(seq.shape, generator=gen, device=seq.device) * r[:, None],
                      col.float())
    return torch.gather(seq, 1, key.argsort(dim=1))


def augment(seq: torch.Tensor, pad: int, mask_token: int, ratios: tuple[float, float, float],
            gen: torch.Generator | None = None) -> torch.Tensor:
    """One CL4SRec view: each row gets crop, mask or reorder (chosen uniformly per row)."""
    import torch

    which = torch.randint(0, 3, (seq.shape[0],), generator=gen, device=seq.device)[:, None]
    c = crop(seq, pad, ratios[0], gen)
    m = mask(seq, pad, mask_token, ratios[1], gen)
    r = reorder(seq, pad, ratios[2], gen)
    return torch.where(which == 0, c, torch.where(which == 1, m, r))
