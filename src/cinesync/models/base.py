"""The ``Recommender`` interface: ``fit(train, ctx) -> self``; ``score(HistoryBatch) -> (n, n_items)``.

Models only score. Top-k, exclusion of seen items and filters live in ``cinesync.ranking``;
external ids live in ``IdIndex``. A fitted model saves as config JSON + arrays
(``cinesync.artifacts``), never a pickle.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pydantic

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError, NotFittedError

log = logging.getLogger(__name__)


#: model groups: "classical" (collaborative baselines), "neural" (torch networks), "content" (text
#: embeddings; the first run encodes the catalogue), "crossdomain" and "ensemble" (built from other
#: models; run through their own commands, or by name)
FAMILIES = ("classical", "neural", "content", "crossdomain", "ensemble")


class ModelConfig(pydantic.BaseModel):
    """Base for model configs: typed, validated, frozen, unknown keys rejected."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


@dataclass
class ValidationData:
    """What iterative models may use for early stopping: histories and held-out targets.

    history: the users' training histories. targets: (n, n_items) CSR of held-out items.
    exclude: (n, n_items) CSR of items not to rank (usually the training items).
    """

    history: HistoryBatch
    targets: Any
    exclude: Any


@dataclass
class FitContext:
    """Everything ``fit`` may need besides the training data. Defaults suit a quiet CPU run."""

    seed: int = 42
    valid: ValidationData | None = None
    progress: bool = False
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)


class Recommender(ABC):
    """Base class every model derives from.

    Subclasses set ``name`` (registry key), ``config_class`` and optionally ``tune_grid``
    (the small validation grid ``cinesync evaluate`` searches by default), and implement
    ``_fit``, ``_score``, ``state`` and ``_load_state``.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    tune_grid: ClassVar[dict[str, list]] = {}
    #: True when the model uses ratings (explicit feedback) rather than binary interactions
    uses_ratings: ClassVar[bool] = False
    #: the group ``cinesync evaluate --models GROUP`` selects it by (see ``FAMILIES``)
    family: ClassVar[str] = "classical"
    #: True when ``fit`` learns something from ``ctx.valid`` that it cannot learn without it (a
    #: combiner fitted on held-out labels); the service then holds out each user's newest item
    needs_validation: ClassVar[bool] = False

    def __init__(self, config: ModelConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        if isinstance(config, ModelConfig):
            values = config.model_dump()
        else:
            values = dict(config or {})
        values.update(overrides)
        try:
            self.config = self.config_class.model_validate(values)
        except pydantic.ValidationError as e:
            msgs = "; ".join(f"{'.'.join(map(str, err['loc'])) or '(config)'}: {err['msg']}" for err in e.errors())
            raise ConfigError(f"invalid config for model {self.name!r}: {msgs}") from None
        self.n_items_: int | None = None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.model_dump().items())
        return f"{type(self).__name__}({args})"

    # ---- training ----------------------------------------------------
    def fit(self, train: Interactions, ctx: FitContext | None = None) -> Self:
        """Learn from ``train``; returns self. Item indices follow ``train.items``."""
        if len(train) == 0:
            raise ValueError(f"{self.name}: cannot fit on an empty training set")
        self._fit(train, ctx or FitContext())
        self.n_items_ = train.n_items
        return self

    @abstractmethod
    def _fit(self, train: Interactions, ctx: FitContext) -> None: ...

    # ---- scoring -----------------------------------------------------
    def score(self, batch: HistoryBatch) -> np.ndarray:
        """(len(batch), n_items) float32 scores; higher = better. Seen items are NOT removed here."""
        if self.n_items_ is None:
            raise NotFittedError(f"model {self.name!r} is not fitted: call fit() or load() first")
        if len(batch.items) and (batch.items.min() < 0 or batch.items.max() >= self.n_items_):
            raise ValueError(f"{self.name}: history holds item indices outside 0..{self.n_items_ - 1}")
        out = np.asarray(self._score(batch), dtype=np.float32)
        if out.shape != (len(batch), self.n_items_):
            raise RuntimeError(f"{self.name}: score returned {out.shape}, expected {(len(batch), self.n_items_)}")
        return out

    @abstractmethod
    def _score(self, batch: HistoryBatch) -> np.ndarray: ...

    # ---- persistence -------------------------------------------------
    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Fitted arrays by name (NumPy arrays or SciPy sparse matrices)."""

    @abstractmethod
    def _load_state(self, arrays: dict[str, Any]) -> None: ...

    def load_state(self, arrays: dict[str, Any], n_items: int) -> Self:
        """Restore fitted arrays saved by ``state()``."""
        self._load_state(arrays)
        self.n_items_ = int(n_items)
        return self

    def save(self, path: str, **meta: Any) -> None:
        """Write config JSON + arrays to directory ``path``."""
        from cinesync.artifacts import save_model

        save_model(self, path, meta=meta)

    @staticmethod
    def load(path: str) -> Recommender:
        """Load any saved model (its class comes from the saved name)."""
        from cinesync.artifacts import load_model

        return load_model(path)[0]
