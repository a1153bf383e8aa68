"""More training queries for the ranker: the protocol's own holdout applied again *inside* train.

The ranker learns from (member scores -> held-out item) examples. The validation part gives one
set of them (members fitted on train). An *inner split* of the training part gives more: members
refitted on the inner training part score the inner validation and inner test queries, whose
targets are training interactions. No validation or test interaction is read, so the inner
pools add labels without touching the data the ranker is selected or evaluated on.

kinds: "last" = each user's newest two training items (the next-item protocols: ``loo``,
``temporal``, the service's newest-item holdout); "random" = a seeded per-user 80/10/10 of the
training items (random-split protocols such as ``recbole-8-1-1``); "none" = no inner pools.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.data.splits import Split, leave_last_out, ratio
from cinesync.errors import ConfigError
from cinesync.models.ensemble.combiner import Pool
from cinesync.models.ensemble.features import ItemStats

Augment = Literal["none", "last", "random"]
AUGMENTS: tuple[str, ...] = ("none", "last", "random")
#: per-user shares of the "random" inner split (train, valid, test)
INNER_RATIOS = (0.8, 0.1, 0.1)


def inner_split(train: Interactions, kind: str, seed: int = 0) -> Split | None:
    """The inner split of ``train`` for augmentation kind ``kind`` (None for "none").

    Users too short to split keep every interaction in the inner train part (the split
    functions' own rule), so they add no inner queries.
    """
    if kind == "none":
        return None
    if kind == "last":
        return leave_last_out(train, n_valid=1, n_test=1)
    if kind == "random":
        return ratio(train, ratios=INNER_RATIOS, seed=seed + 1, order="random")
    raise ConfigError(f"unknown augment {kind!r}; expected one of {', '.join(AUGMENTS)}")


def augment_for(split: Any) -> str:
    """The inner-split kind that mirrors ``split``: "random" for random per-user ratio splits, else "last"."""
    params = getattr(split, "params", {}) or {}
    return "random" if "ratios" in params and params.get("order", "random") == "random" else "last"


def pools_of(inner: Split, member_scores: Callable[[str, HistoryBatch, Any], list[np.ndarray]],
             n_candidates: int) -> list[tuple[Pool, Any]]:
    """(pool, targets) of the inner valid and inner test queries (those with any query).

    member_scores(which, history, exclude): the members' masked (n, n_items) scores of the
    "valid" or "test" queries, from members fitted on ``inner.train``.
    """
    stats = ItemStats.from_train(inner.train)
    out = []
    for which, queries in (("valid", inner.valid_queries), ("test", inner.test_queries)):
        hist, targets, exclude, _ = queries()
        if len(hist):
            out.append((Pool.build(member_scores(which, hist, exclude), hist, stats, n_candidates), targets))
    return out
