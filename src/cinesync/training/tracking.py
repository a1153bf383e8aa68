"""Optional experiment tracking: MLflow or Weights & Biases, used only when asked for and installed.

Neither package is a dependency: ``open_tracker("mlflow")`` without MLflow installed raises a
``ConfigError`` that says how to install it.
"""

from __future__ import annotations

import importlib
from typing import Any

from cinesync.errors import ConfigError

TRACKERS = ("mlflow", "wandb")


class Tracker:
    """Logs a run's parameters once and its metrics per epoch to MLflow or W&B."""

    def __init__(self, kind: str, params: dict[str, Any], run_name: str | None = None) -> None:
        if kind not in TRACKERS:
            raise ConfigError(f"unknown tracker {kind!r}; choose one of {', '.join(TRACKERS)}")
        try:
            self._lib = importlib.import_module(kind)
        except ImportError:
            raise ConfigError(f"tracker {kind!r} asked for but the package is not installed "
                              f"(pip install {kind})") from None
        self.kind = kind
        if kind == "mlflow":
            self._run = self._lib.start_run(run_name=run_name)
            self._lib.log_params({k: str(v) for k, v in params.items()})
        else:
            self._run = self._lib.init(project="cinesync", name=run_name, config=params)

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Numeric metrics of one epoch."""
        nums = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and k != "epoch"}
        if self.kind == "mlflow":
            self._lib.log_metrics(nums, step=step)
        else:
            self._run.log(nums, step=step)

    def close(self) -> None:
        if self.kind == "mlflow":
            self._lib.end_run()
        else:
            self._run.finish()
