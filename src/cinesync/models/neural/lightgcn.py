"""LightGCN (He et al. 2020): linear propagation over the user-item graph, BPR loss.

Graph: the binary training matrix R (n_users, n_items) normalised symmetrically,
``Rn = D_u^-1/2 R D_i^-1/2``. Layer k+1 of a user is ``Rn @ items_k``, of an item
``Rn.T @ users_k``; the final embeddings are the mean of layers 0..K, and a score is
``<user, item>``. Training: one (user, positive, negative) triple per training pair per
epoch, negatives uniform (redrawn while they hit a positive when ``resample``), BPR plus
``reg/2 * (|u_0|^2 + |p_0|^2 + |n_0|^2) / batch`` on the layer-0 embeddings, as in the paper.

History in, scores out (fold-in): a query's user is built from its history H alone with the
same rule, ``u_{k+1} = sum_{i in H} items_k[i] / sqrt(|H| deg_i)``, from cached item layers,
so unknown users and new ratings count at once. Layer 0 of a user (``user_ego``):
- "history" (default): the mean of the history's layer-0 item embeddings, in training too,
  so the model has item parameters only and scoring computes a training user exactly as
  training did;
- "free": the paper's free per-user embedding for training; scoring folds layer 0 in as
  the same history mean (an approximation: those embeddings were never trained to match).

By linearity ``user = (mean_H items_0 + Xn @ sum_{k<K} items_k) / (K+1)``, so after fit the
cache holds ``sum_{k<K} items_k``, the final item embeddings and the item degrees (saved
with the weights); scoring never propagates. Empty histories get the mean training user.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

import numpy as np
import pydantic
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.base import FitContext
from cinesync.models.neural.common import NeuralConfig, TorchRecommender, module_device
from cinesync.models.registry import register

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

CACHE_PREFIX = "cache."
#: rounds of redrawing negatives that hit a positive (the rest, if any, are kept)
RESAMPLE_ROUNDS = 10


class LightGCNConfig(NeuralConfig):
    """Architecture and BPR settings; optimiser settings from ``NeuralConfig`` (defaults tuned
    on recbole-8-1-1 validation of ml-latest-small: lr 1e-2 reached NDCG@10 0.19 where the
    paper's 1e-3 early-stopped at 0.13 within 200 epochs; reg 1e-4..1e-3, 1-3 layers and
    64-128 dims all landed within 0.003 of each other, reg 1e-2 fell to 0.147)."""

    dim: int = pydantic.Field(64, ge=1, description="embedding size")
    layers: int = pydantic.Field(3, ge=0, description="propagation layers K (0 = BPR-MF)")
    reg: float = pydantic.Field(1e-3, ge=0.0, description="L2 weight on the batch's layer-0 embeddings")
    user_ego: Literal["history", "free"] = "history"
    resample: bool = pydantic.Field(True, description="redraw negatives that are training positives")
    init_std: float = pydantic.Field(0.1, gt=0.0, description="std of the normal initialisation")
    epochs: int = pydantic.Field(100, ge=1)
    lr: float = pydantic.Field(1e-2, gt=0.0)
    batch_size: int = pydantic.Field(2048, ge=1)
    warmup_frac: float = pydantic.Field(0.0, ge=0.0, lt=1.0)
    schedule: Literal["cosine", "onecycle", "constant"] = "constant"
    grad_clip: float | None = pydantic.Field(None, gt=0.0)
    patience: int | None = pydantic.Field(10, ge=1)


class Graph(NamedTuple):
    """Torch CSR operators of the training graph: ``adj`` = [[0, Rn], [Rn.T, 0]] (symmetric,
    (n_users + n_items) square), ``norm`` = Rn, ``mean`` = D_u^-1 R and its transpose ``mean_t``."""

    adj: Any
    norm: Any
    mean: Any
    mean_t: Any


def _torch_csr(m: sp.spmatrix, device: Any) -> torch.Tensor:
    import torch

    m = sp.csr_matrix(m, dtype=np.float32)
    m.sort_indices()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta.*")
        t = torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int32)),
                                    torch.from_numpy(m.indices.astype(np.int32)),
                                    torch.from_numpy(m.data), m.shape, check_invariants=False)
    return t.to(device)


def normalised(x: sp.spmatrix, item_degree: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(D_u^-1/2 X D_i^-1/2, D_u^-1 X) of a binary (n, n_items) matrix; degrees clipped at 1."""
    x = sp.csr_matrix(x, dtype=np.float32)
    n_u = np.maximum(x.getnnz(axis=1), 1).astype(np.float32)
    d_i = np.maximum(item_degree, 1).astype(np.float32)
    norm = sp.diags(n_u ** -0.5) @ x @ sp.diags(d_i ** -0.5)
    return sp.csr_matrix(norm), sp.csr_matrix(sp.diags(1.0 / n_u) @ x)


def build_graph(r: sp.csr_matrix, device: Any) -> Graph:
    """The training graph's operators on ``device`` from the binary (n_users, n_items) matrix."""
    norm, mean = normalised(r, np.asarray(r.getnnz(axis=0)))
    adj = sp.bmat([[None, norm], [norm.T, None]], format="csr")
    return Graph(*(_torch_csr(m, device) for m in (adj, norm, mean, mean.T)))


@cache
def module_class() -> type:
    """``LightGCNModule`` (built on first use so that importing the registry does not import torch)."""
    import torch
    from torch import nn

    class SpMM(torch.autograd.Function):
        """``a @ x`` for a constant sparse ``a`` whose transpose ``a_t`` is precomputed."""

        @staticmethod
        def forward(ctx: Any, a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            ctx.a_t = a_t
            return a @ x

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, None, torch.Tensor]:
            return None, None, ctx.a_t @ grad

    class LightGCNModule(nn.Module):
        """Layer-0 item embeddings (n_items, dim) and, for ``user_ego="free"``, user ones."""

        def __init__(self, n_users: int, n_items: int, cfg: LightGCNConfig) -> None:
            super().__init__()
            self.n_items, self.layers = n_items, cfg.layers
            self.item_emb = nn.Parameter(torch.randn(n_items, cfg.dim) * cfg.init_std)
            self.user_emb = (nn.Parameter(torch.randn(n_users, cfg.dim) * cfg.init_std)
                             if cfg.user_ego == "free" else None)

        def propagate(self, g: Graph) -> list[torch.Tensor]:
            """Layers k = 0..K of [users; items], each (n_users + n_items, dim)."""
            users = self.user_emb if self.user_emb is not None else SpMM.apply(g.mean, g.mean_t, self.item_emb)
            layers = [torch.cat([users, self.item_emb])]
            for _ in range(self.layers):
                layers.append(SpMM.apply(g.adj, g.adj, layers[-1]))
            return layers

        def fold_in(self, norm: torch.Tensor, mean: torch.Tensor, item_sum: torch.Tensor) -> torch.Tensor:
            """(n, dim) final users of queries from their normalised histories (see ``normalised``)."""
            return (mean @ self.item_emb + norm @ item_sum) / (self.layers + 1)

    return LightGCNModule


@register
class LightGCN(TorchRecommender):
    """Graph collaborative filtering by linear propagation; users folded in from their history."""

    name = "lightgcn"
    config_class = LightGCNConfig
    tune_grid: ClassVar[dict[str, list]] = {"reg": [1e-4, 1e-3], "layers": [2, 3]}

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.cache_: dict[str, torch.Tensor] | None = None
        self._train_csr: sp.csr_matrix | None = None
        self._graph: Graph | None = None

    def _dims(self, train: Interactions) -> dict[str, int]:
        return {"n_users": train.n_users, "n_items": train.n_items}

    def _build(self, dims: dict[str, int]) -> nn.Module:
        return module_class()(dims["n_users"], dims["n_items"], self.config)

    # ---- training ---------------------------------------------------------------
    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        self._train_csr = train.csr()
        try:
            super()._fit(train, ctx)  # the trainer leaves the best weights, on the CPU
            self._refresh_cache(build_graph(self._train_csr, "cpu"))
        finally:
            self._train_csr, self._graph = None, None

    def _batches(self, train: Interactions, device: torch.device) -> Callable[[np.random.Generator], list]:
        import torch

        r, n_items, bs = self._train_csr, train.n_items, self.config.batch_size
        assert r is not None
        self._graph = build_graph(r, device)
        users = np.repeat(np.arange(r.shape[0], dtype=np.int64), np.diff(r.indptr))
        items = r.indices.astype(np.int64)
        keys = users * n_items + items  # sorted: CSR rows in order, sorted indices
        log.info("lightgcn: %d users, %d items, %d edges, %d layers, user_ego=%s",
                 r.shape[0], n_items, len(items), self.config.layers, self.config.user_ego)

        def batches(rng: np.random.Generator) -> list[tuple[torch.Tensor, ...]]:
            order = rng.permutation(len(users))
            u, p = users[order], items[order]
            neg = rng.integers(0, n_items, len(u))
            for _ in range(RESAMPLE_ROUNDS if self.config.resample else 0):
                hit = is_positive(keys, u * n_items + neg)
                if not hit.any():
                    break
                neg[hit] = rng.integers(0, n_items, int(hit.sum()))
            t = [torch.from_numpy(a).to(device) for a in (u, p, neg)]
            return list(zip(*(a.split(bs) for a in t), strict=True))

        return batches

    def _loss(self, module: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """BPR over the batch's triples + L2 on their layer-0 embeddings (per triple)."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        assert self._graph is not None
        self.cache_ = None  # the weights are about to change
        u, p, n = batch
        layers = module.propagate(self._graph)
        final = torch.stack(layers).mean(0)
        p, n = p + self.dims_["n_users"], n + self.dims_["n_users"]  # item rows follow the users
        bpr = -F.logsigmoid((final[u] * (final[p] - final[n])).sum(-1)).mean()
        ego = layers[0][u].square().sum() + layers[0][p].square().sum() + layers[0][n].square().sum()
        return bpr + self.config.reg * 0.5 * ego / len(u)

    # ---- scoring ----------------------------------------------------------------
    def _refresh_cache(self, g: Graph) -> None:
        """Cache sum_{k<K} items_k, the final items, item degrees and the mean training user."""
        import torch

        module = self.module_
        assert module is not None and self._train_csr is not None
        with torch.no_grad():
            items = [e[self.dims_["n_users"]:] for e in module.propagate(g)]
            item_sum = torch.stack(items[:-1]).sum(0) if module.layers else torch.zeros_like(items[0])
            users = module.fold_in(g.norm, g.mean, item_sum)
            active = torch.from_numpy(self._train_csr.getnnz(axis=1) > 0).to(users.device)
            self.cache_ = {
                "item_sum": item_sum, "item_final": torch.stack(items).mean(0),
                "user_mean": users[active].mean(0) if bool(active.any()) else users.mean(0),
                "item_degree": torch.from_numpy(self._train_csr.getnnz(axis=0).astype(np.int64)),
            }

    def _score_with(self, module: nn.Module, batch: HistoryBatch) -> np.ndarray:
        """(n, n_items) float32: folded-in users @ cached final item embeddings.T."""
        import torch

        if self.cache_ is None:  # during fit, after a step: refresh once per validation
            if self._graph is None:
                raise RuntimeError("lightgcn: no cached item embeddings (fit or load the model)")
            self._refresh_cache(self._graph)
        assert self.cache_ is not None
        c, dev = self.cache_, module_device(module)
        if len(batch) == 0:
            return np.zeros((0, module.n_items), np.float32)
        norm, mean = normalised(batch.to_csr(module.n_items), c["item_degree"].cpu().numpy())
        users = module.fold_in(_torch_csr(norm, dev), _torch_csr(mean, dev), c["item_sum"])
        users[torch.from_numpy(batch.lengths == 0).to(dev)] = c["user_mean"]
        return (users @ c["item_final"].T).float().cpu().numpy()

    # ---- persistence ------------------------------------------------------------
    def _extra_state(self) -> dict[str, np.ndarray]:
        assert self.cache_ is not None
        return {CACHE_PREFIX + k: v.detach().cpu().numpy() for k, v in self.cache_.items()}

    def _load_extra(self, arrays: dict[str, Any]) -> None:
        import torch

        self.cache_ = {k[len(CACHE_PREFIX):]: torch.from_numpy(np.array(v))
                       for k, v in arrays.items() if k.startswith(CACHE_PREFIX)}


def is_positive(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """(n,) bool: whether each of ``keys`` occurs in the ascending ``sorted_keys``."""
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys
