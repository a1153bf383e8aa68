"""What every neural recommender shares: the optimiser settings its config inherits
(``cinesync.training.config.TrainConfig``), the bridge to the one trainer
(``cinesync.training.trainer.train``), and save/load of the torch module as named arrays (no pickle).

A neural model subclasses ``TorchRecommender`` and supplies five pieces:
- ``_dims(train) -> {name: int}``: the sizes that rebuild the network (saved with the weights);
- ``_build(dims) -> nn.Module``: the architecture only;
- ``_batches(train, device) -> (rng -> list of batches)``: one epoch's batches, vectorised;
- ``_loss(module, batch) -> scalar tensor``;
- ``_score_with(module, HistoryBatch) -> (n, n_items)``: scores from histories (called under
  ``no_grad`` in eval mode by both the trainer's validation and ``score``).

Torch is imported inside the methods (the package itself checks that it is installed), so the
registry and the configs load fast.
"""

from __future__ import annotations

import logging
import os
from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.training.config import TRAIN_FIELDS, TrainConfig

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

MODULE_PREFIX = "module."
DIMS_PREFIX = "dims."


class NeuralConfig(ModelConfig, TrainConfig):
    """A neural model's config: its own architecture fields plus the optimisation settings it inherits
    from ``TrainConfig`` (a model overrides a default by redeclaring the field)."""


def resolve_device(requested: str) -> str:
    """"cuda" when asked for and present, else "cpu" (a CUDA request without CUDA logs a warning)."""
    import torch

    if requested == "cuda":
        if torch.cuda.is_available():
            return "cuda"
        log.warning("CUDA requested but not available: training on the CPU")
    return "cpu"


def trainer_options(cfg: NeuralConfig, ctx: FitContext, device: str, name: str = "model") -> tuple[Any, Any]:
    """(TrainConfig, RunOptions) for one fit: the optimisation settings the config inherits, and the
    run's seed, device and outputs from ``ctx`` (``metrics_log_dir`` gives ``{dir}/{name}.jsonl``)."""
    from cinesync.training.trainer import RunOptions

    metrics_log = ctx.metrics_log
    if metrics_log is None and ctx.metrics_log_dir:
        metrics_log = os.path.join(ctx.metrics_log_dir, f"{name}.jsonl")
    train_cfg = TrainConfig(**{f: getattr(cfg, f) for f in TRAIN_FIELDS})
    run = RunOptions(seed=ctx.seed, device=device, checkpoint_dir=ctx.checkpoint_dir, metrics_log=metrics_log,
                     tracker=ctx.tracker, run_name=ctx.run_name or name)
    return train_cfg, run


def module_device(module: nn.Module) -> torch.device:
    """The device the module's parameters live on."""
    return next(module.parameters()).device


class TorchRecommender(Recommender):
    """A ``Recommender`` whose scores come from a torch module trained by the shared trainer."""

    config_class = NeuralConfig
    family: ClassVar[str] = "neural"

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.module_: nn.Module | None = None
        self.dims_: dict[str, int] = {}
        self.train_result_: Any = None

    # ---- the pieces a model supplies -----------------------------------------
    @abstractmethod
    def _dims(self, train: Interactions) -> dict[str, int]: ...

    @abstractmethod
    def _build(self, dims: dict[str, int]) -> nn.Module: ...

    @abstractmethod
    def _batches(self, train: Interactions, device: torch.device) -> Callable[[np.random.Generator], list]: ...

    @abstractmethod
    def _loss(self, module: nn.Module, batch: Any) -> torch.Tensor: ...

    @abstractmethod
    def _score_with(self, module: nn.Module, batch: HistoryBatch) -> np.ndarray: ...

    def _init_module(self, module: nn.Module, train: Interactions) -> None:
        """Optional data-dependent initialisation before training (none by default)."""
        return None

    def _extra_state(self) -> dict[str, np.ndarray]:
        """Fitted arrays besides the module's weights (none by default)."""
        return {}

    def _load_extra(self, arrays: dict[str, Any]) -> None:
        """Restore what ``_extra_state`` saved."""
        return None

    # ---- fit / score ----------------------------------------------------------
    def _fit(self, train_data: Interactions, ctx: FitContext) -> None:
        import torch

        from cinesync.training.runtime import seeded, torch_threads
        from cinesync.training.trainer import train

        device = resolve_device(ctx.device)
        with torch_threads(ctx.threads) as threads, seeded(ctx.seed, device):
            self.dims_ = {k: int(v) for k, v in self._dims(train_data).items()}
            self.module_ = self._build(self.dims_)
            self._init_module(self.module_, train_data)
            log.info("%s: %d parameters, %s, %d threads", self.name,
                     sum(p.numel() for p in self.module_.parameters()), device, threads)
            self.module_.to(device)
            batches = self._batches(train_data, torch.device(device))
            train_cfg, run = trainer_options(self.config, ctx, device, self.name)
            self.train_result_ = train(self.module_, batches, self._loss, self._score_with, train_cfg, run,
                                       ctx.valid, ctx.progress)
            self.module_.to("cpu").eval()

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        import torch

        assert self.module_ is not None
        self.module_.eval()
        with torch.no_grad():
            return self._score_with(self.module_, batch)

    # ---- persistence ----------------------------------------------------------
    def state(self) -> dict[str, Any]:
        assert self.module_ is not None
        out: dict[str, Any] = {MODULE_PREFIX + k: v.detach().cpu().numpy()
                               for k, v in self.module_.state_dict().items()}
        out.update({DIMS_PREFIX + k: np.int64(v) for k, v in self.dims_.items()})
        out.update(self._extra_state())
        return out

    def _load_state(self, arrays: dict[str, Any]) -> None:
        import torch

        self.dims_ = {k[len(DIMS_PREFIX):]: int(v) for k, v in arrays.items() if k.startswith(DIMS_PREFIX)}
        module = self._build(self.dims_)
        weights = {k[len(MODULE_PREFIX):]: torch.from_numpy(np.array(v))
                   for k, v in arrays.items() if k.startswith(MODULE_PREFIX)}
        module.load_state_dict(weights)
        self.module_ = module.eval()
        self._load_extra(arrays)


def svd_item_vectors(train: Interactions, dim: int) -> np.ndarray | None:
    """(n_items, k <= dim) float32 item vectors from the truncated SVD of the binary training matrix:
    top right singular vectors scaled by sqrt(singular value), rescaled to std ``dim ** -0.5``
    (the spread of a random embedding init). None when the matrix is too small for one factor.
    Starting item embeddings here lets a sequence model learn what to pool from epoch one."""
    from scipy.sparse.linalg import svds

    x = train.csr().astype(np.float64)
    k = min(dim, min(x.shape) - 1)
    if k < 1:
        return None
    _, s, vt = svds(x, k=k, random_state=0)
    v = (vt.T * np.sqrt(s)).astype(np.float32)
    v *= (dim ** -0.5) / max(float(v.std()), 1e-12)
    return v


def init_items_from_svd(weight: Any, train: Interactions, dim: int) -> None:
    """Overwrite rows 0..n_items-1 (first k columns) of an item embedding ``weight`` in place with
    ``svd_item_vectors(train, dim)``; no-op when the matrix is too small for one factor."""
    import torch

    v = svd_item_vectors(train, dim)
    if v is not None:
        with torch.no_grad():
            weight[: train.n_items, : v.shape[1]] = torch.from_numpy(v)
