"""The ``Recommender`` interface: ``fit(train, ctx) -> self``; ``score(HistoryBatch) -> (n, n_items)``.

Models only score. Top-k, exclusion of seen items and filters live in ``cinesync.ranking``;
external ids live in ``IdIndex``. A fitted model saves as config JSON + arrays
(``cinesync.artifacts.save_model`` / ``load_model``), never a pickle.
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
from cinesync.training.config import StrictValues
from cinesync.training.validation import ValidationData

log = logging.getLogger(__name__)


class ModelConfig(StrictValues):
    """Base for model configs: typed, validated, frozen, unknown keys rejected, no true/false or
    strings read as numbers.

    Every single-field rule is declared on the field (bounds, patterns, lengths), so the config's
    JSON Schema states it. Rules between fields, which a JSON Schema cannot state, go in ``checks``;
    they run after the fields validate, unless ``cross_field`` is False (a shape that checks only
    what the schema says, e.g. the HTTP API's, which reports cross-field problems on the job).
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    cross_field: ClassVar[bool] = True

    def checks(self) -> None:
        """Rules between fields; raise ValueError naming them. None by default."""

    @pydantic.model_validator(mode="after")
    def _cross_field(self) -> Self:
        if self.cross_field:
            self.checks()
        return self

    @classmethod
    def shape(cls) -> type[Self]:
        """This config with its field rules only (``checks`` off), under the same name."""
        return type(cls.__name__, (cls,), {"cross_field": False, "__module__": cls.__module__,
                                           "__doc__": cls.__doc__})


@dataclass
class FitContext:
    """Everything ``fit`` may need besides the training data; every field is typed and optional.
    Defaults suit a quiet CPU run.

    seed: the run's seed. valid: validation histories + targets (early stopping, learned combiners).
    progress: progress bars. device: "cpu" or "cuda" (neural models). threads: torch threads during
    the fit (None: every available core). checkpoint_dir / metrics_log / metrics_log_dir (then the
    log is ``{dir}/{model}.jsonl``) / tracker ("mlflow" | "wandb") / run_name: the neural trainer's
    outputs. item_vectors: (n_items, d) text vectors for the two-tower text block; block_vectors:
    named item-vector blocks (``{name: ItemVectors or (n_items, d) array}``). joint: an already fitted
    model a composite model may reuse instead of fitting it again (EMCDR's joint EASE).
    """

    seed: int = 42
    valid: ValidationData | None = None
    progress: bool = False
    device: str = "cpu"
    threads: int | None = None
    checkpoint_dir: str | None = None
    metrics_log: str | None = None
    metrics_log_dir: str | None = None
    tracker: str | None = None
    run_name: str | None = None
    item_vectors: Any = None
    block_vectors: dict[str, Any] = field(default_factory=dict)
    joint: Any = None


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
    #: the group ``cinesync evaluate --models GROUP`` selects it by (see ``registry.FAMILIES``)
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
            raise NotFittedError(f"model {self.name!r} is not fitted: call fit() (or load a saved one with "
                                 "cinesync.artifacts.load_model) first")
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
