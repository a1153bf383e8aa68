"""What every neural recommender shares: the optimiser settings its config carries, the bridge
to the one trainer (``cinesync.training.train``), and save/load of the torch module as named
arrays (no pickle).

A neural model subclasses ``TorchRecommender`` and supplies five pieces:
- ``_dims(train) -> {name: int}``: the sizes that rebuild the network (saved with the weights);
- ``_build(dims) -> nn.Module``: the architecture only;
- ``_batches(train, device) -> (rng -> list of batches)``: one epoch's batches, vectorised;
- ``_loss(module, batch) -> scalar tensor``;
- ``_score_with(module, HistoryBatch) -> (n, n_items)``: scores from histories (called under
  ``no_grad`` in eval mode by both the trainer's validation and ``score``).

Torch is imported inside the methods, so importing the model registry stays fast.
"""

from __future__ import annotations

import logging
import os
from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pydantic

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.models.base import FitContext, ModelConfig, Recommender

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

MODULE_PREFIX = "module."
DIMS_PREFIX = "dims."


class NeuralConfig(ModelConfig):
    """Optimisation settings shared by the neural models (passed on to ``TrainerConfig``)."""

    epochs: int = pydantic.Field(50, ge=1)
    lr: float = pydantic.Field(1e-3, gt=0.0)
    weight_decay: float = pydantic.Field(0.0, ge=0.0)
    batch_size: int = pydantic.Field(128, ge=1)
    warmup_frac: float = pydantic.Field(0.05, ge=0.0, lt=1.0)
    schedule: Literal["cosine", "onecycle", "constant"] = "cosine"
    grad_clip: float | None = pydantic.Field(1.0, gt=0.0)
    grad_accum: int = pydantic.Field(1, ge=1)
    patience: int | None = pydantic.Field(5, ge=1)
    eval_every: int = pydantic.Field(1, ge=1)


def resolve_device(requested: str) -> str:
    """"cuda" when asked for and present, else "cpu" (a CUDA request without CUDA logs a warning)."""
    import torch

    if requested == "cuda":
        if torch.cuda.is_available():
            return "cuda"
        log.warning("CUDA requested but not available: training on the CPU")
    return "cpu"


def use_all_cores() -> int:
    """Give torch every core this process may use (intra-op threads) unless ``OMP_NUM_THREADS`` or
    ``CINESYNC_THREADS`` sets the count; returns the thread count."""
    import torch

    for var in ("CINESYNC_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit() and int(os.environ[var]) > 0:
            torch.set_num_threads(int(os.environ[var]))
            return torch.get_num_threads()

    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    if torch.get_num_threads() < n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def trainer_config(cfg: NeuralConfig, ctx: FitContext, device: str, name: str = "model") -> Any:
    """The ``TrainerConfig`` for one fit: the model's optimiser settings + the run's seed/device/paths.

    ``ctx.extra`` may hold checkpoint_dir, metrics_log (a file) or metrics_log_dir (then the log
    is ``{dir}/{name}.jsonl``), tracker ("mlflow" / "wandb") and run_name."""
    from cinesync.training import TrainerConfig

    metrics_log = ctx.extra.get("metrics_log")
    if metrics_log is None and ctx.extra.get("metrics_log_dir"):
        metrics_log = os.path.join(ctx.extra["metrics_log_dir"], f"{name}.jsonl")

    return TrainerConfig(
        epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, batch_size=cfg.batch_size,
        warmup_frac=cfg.warmup_frac, schedule=cfg.schedule, grad_clip=cfg.grad_clip, grad_accum=cfg.grad_accum,
        patience=cfg.patience, eval_every=cfg.eval_every, seed=ctx.seed, device=device,
        checkpoint_dir=ctx.extra.get("checkpoint_dir"), metrics_log=metrics_log,
        tracker=ctx.extra.get("tracker"), run_name=ctx.extra.get("run_name", name),
    )


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

        from cinesync.training import train

        threads = use_all_cores()
        device = resolve_device(ctx.device)
        torch.manual_seed(ctx.seed)
        np.random.seed(ctx.seed % 2**32)
        self.dims_ = {k: int(v) for k, v in self._dims(train_data).items()}
        self.module_ = self._build(self.dims_)
        self._init_module(self.module_, train_data)
        log.info("%s: %d parameters, %s, %d threads", self.name,
                 sum(p.numel() for p in self.module_.parameters()), device, threads)
        self.module_.to(device)
        batches = self._batches(train_data, torch.device(device))
        self.train_result_ = train(self.module_, batches, self._loss, self._score_with,
                                   trainer_config(self.config, ctx, device, self.name), ctx.valid, ctx.progress)
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
