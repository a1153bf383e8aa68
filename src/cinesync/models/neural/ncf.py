"""NCF / NeuMF (He et al. 2017): GMF and an MLP tower fused by one output layer, trained
pointwise with binary cross-entropy on each positive plus ``negatives`` sampled unobserved items.

``arch``: "gmf" (element-wise product of user and item vectors -> linear), "mlp" (concatenated
vectors -> ReLU tower halving in width down to ``factors``) or "neumf" (both branches, their last
layers concatenated -> linear). The tower follows the paper's recipe: with ``factors`` f and
``mlp_layers`` L, each side embeds in f * 2^(L-1) dims, input 2 f 2^(L-1) -> ... -> f.

Deviation from the paper (history in, scores out): the original NCF learns a user-id embedding,
which can score neither a new user nor a history that just changed. Here the user vector of each
branch is FISM-style (Kabbur et al. 2013) instead: ``|H|^-alpha * sum_{j in H} w_j`` over the
distinct items H of the history, with a per-item "user-side" embedding ``w`` separate from the
item embedding. In training, a positive (u, i) uses H_u minus i (its own target would leak) and
a sampled negative uses all of H_u — exactly what a query history looks like at scoring time.
An empty history gives the zero user vector (GMF: the output bias; MLP: an item-only score).

The MLP-only tower is the fragile one: at a high learning rate (>= 1e-2 on small data) its ReLUs
can all die, leaving constant scores, and with many negatives per positive it can settle on an
item-only (popularity) solution; lower ``lr`` and ``negatives`` (e.g. 5e-3 and 1) avoid both.

Not reproduced: the paper's GMF/MLP pre-training of NeuMF and its plain-SGD fine-tuning
(AdamW from the shared trainer throughout). The classic is expected to trail well-tuned
dot-product models (Rendle et al. 2020, "NCF vs. Matrix Factorization Revisited").
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


class NCFConfig(NeuralConfig):
    """Architecture, sampling and scoring; the optimiser settings come from ``NeuralConfig``.

    factors: predictive factors (GMF width = width of the last MLP layer). mlp_layers: hidden
    layers of the tower. dropout: before each tower layer. alpha: history normalisation exponent
    (0 = sum, 0.5 = FISM's default, 1 = mean). negatives: sampled unobserved items per positive.
    init_std: normal init of both embedding tables (the paper's 0.01). user_group: training pairs
    of one user kept together in a batch (see ``grouped_order``; 1 = a plain shuffle, where each
    pair re-sums its user's whole history). score_pairs: (user, item) pairs pushed through the
    tower at once when scoring (memory: about 3 * score_pairs * factors * 2^(L-1) floats).
    """

    arch: Literal["neumf", "gmf", "mlp"] = "neumf"
    factors: int = pydantic.Field(16, ge=1)
    mlp_layers: int = pydantic.Field(3, ge=1)
    dropout: float = pydantic.Field(0.0, ge=0.0, lt=1.0)
    alpha: float = pydantic.Field(0.5, ge=0.0, le=1.0)
    negatives: int = pydantic.Field(4, ge=1)
    init_std: float = pydantic.Field(0.01, gt=0.0)
    user_group: int = pydantic.Field(32, ge=1)
    score_pairs: int = pydantic.Field(65_536, ge=1)
    epochs: int = pydantic.Field(25, ge=1)
    batch_size: int = pydantic.Field(1024, ge=1)
    lr: float = pydantic.Field(3e-3, gt=0.0)
    patience: int | None = pydantic.Field(4, ge=1)

    @property
    def gmf_dim(self) -> int:
        return self.factors if self.arch != "mlp" else 0

    @property
    def mlp_dim(self) -> int:
        """Embedding width per side of the MLP branch (0 without one)."""
        return self.factors * 2 ** (self.mlp_layers - 1) if self.arch != "gmf" else 0


@cache
def module_class() -> type:
    """``NCFModule`` (built on first use so that importing the registry does not import torch)."""
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    class NCFModule(nn.Module):
        """History-side and item-side tables of width gmf_dim + mlp_dim (GMF part first)."""

        def __init__(self, n_items: int, cfg: NCFConfig) -> None:
            super().__init__()
            self.n_items, self.alpha = n_items, cfg.alpha
            self.dg, self.dm = cfg.gmf_dim, cfg.mlp_dim
            self.hist_emb = nn.Parameter(torch.randn(n_items, self.dg + self.dm) * cfg.init_std)
            self.item_emb = nn.Parameter(torch.randn(n_items, self.dg + self.dm) * cfg.init_std)
            tower: list[nn.Module] = []
            width = 2 * self.dm
            for _ in range(cfg.mlp_layers if self.dm else 0):
                tower += [nn.Dropout(cfg.dropout), nn.Linear(width, width // 2), nn.ReLU()]
                width //= 2
            self.tower = nn.Sequential(*tower)
            self.out = nn.Linear(self.dg + (width if self.dm else 0), 1)

        def user_vectors(self, sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
            """(n, d) normalised user vectors from (n, d) history sums and (n,) history sizes."""
            return sums * counts.clamp(min=1).float().pow(-self.alpha)[:, None]

        def history_sums(self, indptr: torch.Tensor, items: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            """(len(rows), d) sums of ``hist_emb`` over CSR rows ``rows`` (indptr, items)."""
            starts, lens = indptr[rows], indptr[rows + 1] - indptr[rows]
            offsets = torch.cumsum(lens, 0) - lens
            pos = torch.arange(int(lens.sum()), device=items.device) + torch.repeat_interleave(starts - offsets, lens)
            return F.embedding_bag(items[pos], self.hist_emb, offsets, mode="sum")

        def pair_logits(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
            """(N,) logits of N (user vector (N, d), item index (N,)) pairs."""
            q = self.item_emb[item]
            parts = []
            if self.dg:
                parts.append(user[:, : self.dg] * q[:, : self.dg])
            if self.dm:
                parts.append(self.tower(torch.cat([user[:, self.dg:], q[:, self.dg:]], 1)))
            return self.out(torch.cat(parts, 1)).squeeze(1)

        def score_all(self, user: torch.Tensor, pairs: int) -> torch.Tensor:
            """(n, n_items) logits of every item for (n, d) user vectors, ~``pairs`` pairs at a time.

            GMF is a matmul (w * q_i summed = u @ (q * w_gmf).T); the MLP's first layer splits
            into a user and an item term, so only the tower runs on the (chunk * n_items) pairs."""
            n, w = len(user), self.out.weight[0]
            logits = torch.full((n, self.n_items), float(self.out.bias[0]), device=user.device)
            if self.dg:
                logits += user[:, : self.dg] @ (self.item_emb[:, : self.dg] * w[: self.dg]).T
            if self.dm:
                first = self.tower[1]
                half = self.dm
                u_part = user[:, self.dg:] @ first.weight[:, :half].T  # (n, h1)
                i_part = self.item_emb[:, self.dg:] @ first.weight[:, half:].T + first.bias  # (n_items, h1)
                step = max(1, pairs // self.n_items)
                for s in range(0, n, step):
                    h = torch.relu(u_part[s:s + step, None, :] + i_part[None])  # (c, n_items, h1)
                    h = self.tower[3:](h) if len(self.tower) > 3 else h
                    logits[s:s + step] += h @ w[self.dg:]
            return logits

    return NCFModule


@register
class NCF(TorchRecommender):
    """Neural collaborative filtering (GMF / MLP / NeuMF) with FISM-style history users."""

    name = "ncf"
    config_class = NCFConfig
    tune_grid: ClassVar[dict[str, list]] = {"factors": [8, 16, 32], "lr": [1e-3, 3e-3]}

    def _dims(self, train: Interactions) -> dict[str, int]:
        return {"n_items": train.n_items}

    def _build(self, dims: dict[str, int]) -> nn.Module:
        return module_class()(dims["n_items"], self.config)

    def _batches(self, train: Interactions, device: torch.device) -> Callable[[np.random.Generator], list]:
        import torch

        cfg, n_items = self.config, train.n_items
        csr = train.csr()  # binary, de-duplicated, sorted indices
        pos_user = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr)).astype(np.int64)
        pos_item = csr.indices.astype(np.int64)
        indptr = torch.from_numpy(csr.indptr.astype(np.int64)).to(device)
        hist = torch.from_numpy(pos_item).to(device)
        log.info("ncf: %d positives x (1 + %d negatives), %d items, arch %s",
                 len(pos_item), cfg.negatives, n_items, cfg.arch)

        def batches(rng: np.random.Generator) -> list[tuple[torch.Tensor, ...]]:
            neg_user = np.repeat(pos_user, cfg.negatives)
            neg_item = sample_negatives(neg_user, csr.indptr, pos_item, n_items, rng)
            user = np.concatenate([pos_user, neg_user])
            item = np.concatenate([pos_item, neg_item])
            label = np.concatenate([np.ones(len(pos_user), np.float32), np.zeros(len(neg_user), np.float32)])
            order = grouped_order(user, cfg.user_group, rng)
            u, i, y = (torch.from_numpy(a[order]) for a in (user, item, label))
            return [(u[s].to(device), i[s].to(device), y[s].to(device), indptr, hist)
                    for s in torch.arange(len(order)).split(cfg.batch_size)]

        return batches

    def _loss(self, module: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Mean BCE over a batch of (user, item, label) pairs; a positive's history omits itself."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        user, item, label, indptr, hist = batch
        rows, inv = torch.unique(user, return_inverse=True)
        sums = module.history_sums(indptr, hist, rows)[inv] - label[:, None] * module.hist_emb[item]
        counts = (indptr[user + 1] - indptr[user]) - label.long()
        logits = module.pair_logits(module.user_vectors(sums, counts), item)
        return F.binary_cross_entropy_with_logits(logits.float(), label)

    def _score_with(self, module: nn.Module, batch: HistoryBatch) -> np.ndarray:
        """(n, n_items) float32 logits for every item, from each row's distinct history items."""
        import torch

        dev = module_device(module)
        csr = batch.to_csr(module.n_items)
        indptr = torch.from_numpy(csr.indptr.astype(np.int64)).to(dev)
        items = torch.from_numpy(csr.indices.astype(np.int64)).to(dev)
        rows = torch.arange(len(batch), device=dev)
        user = module.user_vectors(module.history_sums(indptr, items, rows), indptr[1:] - indptr[:-1])
        return module.score_all(user, self.config.score_pairs).float().cpu().numpy()


def grouped_order(user: np.ndarray, group: int, rng: np.random.Generator) -> np.ndarray:
    """A shuffle of pairs that keeps runs of up to ``group`` pairs of one user together.

    Pairs are shuffled within each user, cut into runs of ``group`` and the runs shuffled, so
    a batch of B pairs sums about B / group histories instead of up to B (one per pair)."""
    by_user = np.lexsort((rng.random(len(user)), user))
    u = user[by_user]
    counts = np.bincount(u)
    starts = np.cumsum(counts) - counts
    runs = -(-counts // group)  # ceil
    run_id = (np.cumsum(runs) - runs)[u] + (np.arange(len(u)) - starts[u]) // group
    rank = rng.permutation(int(runs.sum()))
    return by_user[np.argsort(rank[run_id], kind="stable")]


def sample_negatives(users: np.ndarray, indptr: np.ndarray, indices: np.ndarray, n_items: int,
                     rng: np.random.Generator) -> np.ndarray:
    """(len(users),) items drawn uniformly among those each user has NOT interacted with (exact).

    indptr / indices: the users' positives as CSR with sorted, distinct indices. The r-th free
    item of a user is r + #{k : p_k - k <= r} over the user's sorted positives p_k (p_k - k counts
    the free items below p_k), found with one ``searchsorted``. A user with no free item gets a
    uniform draw."""
    counts = np.diff(indptr)
    row = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    below = row * n_items + (indices - (np.arange(len(indices)) - indptr[row]))  # non-decreasing
    free = n_items - counts[users]
    r = (rng.random(len(users)) * np.maximum(free, 1)).astype(np.int64)
    j = np.searchsorted(below, users.astype(np.int64) * n_items + r, side="right") - indptr[users]
    return np.where(free > 0, r + j, rng.integers(0, n_items, len(users)))
