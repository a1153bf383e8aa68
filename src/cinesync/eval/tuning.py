"""The one tuning loop: try every configuration, score it on VALIDATION data, keep the best.

``search`` is the loop (any fit + any validation score); ``cinesync.eval.runner.tune`` applies it
to a registered model's ``tune_grid`` on a split, and the cold-start and cross-domain experiments
to their own grids. Callers pass validation scores only; nothing here reads a test part.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm


def grid(space: dict[str, list]) -> list[dict[str, Any]]:
    """Cartesian product of a {param: [values]} grid (one empty dict if the grid is empty)."""
    if not space:
        return [{}]
    keys = list(space)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(space[k] for k in keys))]


@dataclass
class Search:
    """What a search found: the best trial's model, config, selection value and fit seconds, and one
    record per trial ({"config": ..., metric: value, ...} in trial order)."""

    model: Any
    config: dict[str, Any]
    value: float
    fit_seconds: float
    records: list[dict[str, Any]] = field(default_factory=list)

    def best(self, select: str, where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """The config of the first record with the highest ``select`` among those ``where`` accepts."""
        rows = [r for r in self.records if where is None or where(r["config"])]
        return max(rows, key=lambda r: r[select])["config"]


def search(configs: Sequence[dict[str, Any]], trial: Callable[[dict[str, Any]], tuple[Any, dict[str, float]]],
           select: str, desc: str = "tune", progress: bool = False) -> Search:
    """Run ``trial(config) -> (model, {metric: value, ...})`` for every config in order and keep the
    model with the highest ``select`` (the first one on ties). Each record is the config plus the
    trial's metrics; a "fit_seconds" metric becomes the result's ``fit_seconds``."""
    if not configs:
        raise ValueError("search needs at least one configuration")
    found: Search | None = None
    records: list[dict[str, Any]] = []
    for cfg in tqdm(configs, desc=desc, disable=not progress or len(configs) == 1, leave=False):
        model, metrics = trial(cfg)
        records.append({"config": cfg, **metrics})
        value = float(metrics[select])
        if found is None or value > found.value:
            found = Search(model, cfg, value, float(metrics.get("fit_seconds", float("nan"))))
    assert found is not None
    found.records = records
    return found
