"""Named evaluation protocols: filtering + splitting recipes that match published setups.

``make_split("loo", data)`` runs the protocol's filters, re-indexes so the item universe is
exactly the items left after filtering (never-interacted items are not ranked), then splits.
Every protocol is deterministic given ``seed``; the resulting ``Split.params`` and ``Split.log``
record the options and the counts after each step, so a run can be re-created from its log.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from cinesync.data import filters
from cinesync.data.arrays import unique_int
from cinesync.data.dataset import Interactions
from cinesync.data.splits import Split, counts_line, leave_last_out, ratio, temporal
from cinesync.errors import ConfigError

log = logging.getLogger(__name__)
Builder = Callable[[Interactions, int, dict[str, Any], list[str]], Split]


@dataclass(frozen=True)
class ProtocolSpec:
    """One named protocol: a description for people, default options and the builder.

    ``build(data, seed, options, log_lines)`` filters ``data`` (appending one log line per
    step to ``log_lines``) and returns the split of the re-indexed result.
    """

    name: str
    description: str
    defaults: Mapping[str, Any]
    build: Builder


def _note(lines: list[str], line: str) -> None:
    """Record one preprocessing step in the split log (and the logger)."""
    lines.append(line)
    log.info(line)


def _dedup_repeats(data: Interactions, lines: list[str]) -> Interactions:
    """Keep the last of repeated (user, item) pairs, if any: an earlier copy would be excluded
    from ranking as "seen" while the later one is a target, an unreachable hit."""
    key = data.user.astype(np.int64) * max(1, data.n_items) + data.item
    n_rep = len(key) - len(unique_int(key))
    if n_rep:
        data = filters.dedup(data, "last")
        _note(lines, counts_line(data, f"dedup 'last' ({n_rep:,} repeated user-item rows removed)"))
    return data


def _compact(data: Interactions, lines: list[str]) -> Interactions:
    data = data.reindexed()
    _note(lines, f"reindexed: {data.n_users:,} users, {data.n_items:,} items in the universe")
    return data


def _loo(data: Interactions, seed: int, opts: dict[str, Any], lines: list[str]) -> Split:
    # every interaction is a positive (relevant) event; rating values are kept only for
    # explicit-feedback models (binary models read the binary matrix)
    _note(lines, counts_line(data, "positive (every interaction counts; rating values kept for explicit models)"))
    data = _compact(_dedup_repeats(data, lines), lines)
    return leave_last_out(data, n_valid=opts["n_valid"], n_test=opts["n_test"])


def _recbole(data: Interactions, seed: int, opts: dict[str, Any], lines: list[str]) -> Split:
    data = _dedup_repeats(data, lines)
    data = filters.threshold(data, min_rating=opts["min_rating"], binarize=False)
    _note(lines, counts_line(data, f"rating >= {opts['min_rating']} (kept rows are positives)"))
    data = filters.kcore(data, user_k=opts["user_k"], item_k=opts["item_k"])
    _note(lines, counts_line(data, f"{opts['user_k']}-core users / {opts['item_k']}-core items (iterative)"))
    data = _compact(data, lines)
    return ratio(data, ratios=tuple(opts["ratios"]), seed=seed, order=opts["order"])


def _temporal(data: Interactions, seed: int, opts: dict[str, Any], lines: list[str]) -> Split:
    data = _compact(_dedup_repeats(data, lines), lines)
    return temporal(data, valid_time=opts["valid_time"], test_time=opts["test_time"],
                    valid_frac=opts["valid_frac"], test_frac=opts["test_frac"], unseen=opts["unseen"])


def _ratio(data: Interactions, seed: int, opts: dict[str, Any], lines: list[str]) -> Split:
    data = _compact(_dedup_repeats(data, lines), lines)
    return ratio(data, ratios=tuple(opts["ratios"]), seed=seed, order=opts["order"])


def _spec(name: str, description: str, defaults: dict[str, Any], build: Builder) -> ProtocolSpec:
    return ProtocolSpec(name, " ".join(description.split()), MappingProxyType(defaults), build)


PROTOCOLS: dict[str, ProtocolSpec] = {
    "loo": _spec("loo", """
        Leave-last-one-out (SASRec / BERT4Rec setup). Every interaction counts as positive
        (rating values are kept only for explicit-feedback models); repeated user-item pairs
        keep the last one; no k-core. Per user, in
        time order (ties in file order): last item = test, second-last = valid, rest = train;
        users with fewer than 3 interactions stay entirely in train. Scoring test, the
        user's history is train + the valid item. Full ranking over every item in the data,
        excluding the user's earlier (train + valid) items. Options: n_valid=1, n_test=1.
        """, {"n_valid": 1, "n_test": 1}, _loo),
    "recbole-8-1-1": _spec("recbole-8-1-1", """
        RecBole's general-recommendation setup. Repeated user-item pairs keep the last one;
        ratings >= 3 kept (all kept rows are positives); then iterative 10-core on users and items; then per
        user 80/10/10 train/valid/test in a random order seeded by `seed`, with RecBole's exact
        per-user count rule (every non-empty part gets >= 1 row while train keeps > 1). Test
        is scored with the train history only (the model trained on train), excluding train +
        valid items; full ranking over the items left after filtering. Options: min_rating=3,
        user_k=10, item_k=10, ratios=(0.8, 0.1, 0.1), order="random" ("time" = time order).
        """, {"min_rating": 3.0, "user_k": 10, "item_k": 10, "ratios": (0.8, 0.1, 0.1), "order": "random"},
        _recbole),
    "temporal": _spec("temporal", """
        Global time split: one cut-off for everyone, so no future interaction leaks into
        training. Repeated user-item pairs keep the last one; no rating filter or k-core. The
        latest 10% of interactions are test and the 10% before them valid (ties at a cut-off go
        to the later part); valid/test rows whose item or user never occurs in train are dropped
        (counts logged). Test history = train + valid; exclusion = train + valid items; full
        ranking. Requires timestamps. Options: valid_frac=0.1, test_frac=0.1, valid_time /
        test_time (explicit unix cut-offs), unseen="drop" | "keep".
        """, {"valid_frac": 0.1, "test_frac": 0.1, "valid_time": None, "test_time": None, "unseen": "drop"},
        _temporal),
    "ratio": _spec("ratio", """
        Plain per-user 80/10/10 random split (seeded) with RecBole's count rule and no rating
        filter or k-core (repeated user-item pairs keep the last one). Test history = train;
        exclusion = train + valid items; full ranking. Options: ratios=(0.8, 0.1, 0.1),
        order="random" | "time".
        """, {"ratios": (0.8, 0.1, 0.1), "order": "random"}, _ratio),
}


def make_split(protocol: str, data: Interactions, seed: int = 0, **overrides: Any) -> Split:
    """Filter, re-index and split ``data`` by the named protocol (options override its defaults)."""
    spec = PROTOCOLS.get(protocol)
    if spec is None:
        raise ConfigError(f"unknown protocol {protocol!r}; available: {', '.join(PROTOCOLS)}")
    unknown = sorted(set(overrides) - set(spec.defaults))
    if unknown:
        raise ConfigError(f"protocol {protocol!r} has no option(s) {unknown}; "
                          f"options: {', '.join(spec.defaults) or 'none'}")
    opts = {**spec.defaults, **overrides}
    lines: list[str] = []
    _note(lines, counts_line(data, f"input {data.name!r} ({data.n_items:,} catalogue items)"))
    split = spec.build(data, seed, opts, lines)
    params = {"protocol": protocol, "seed": seed,
              **{k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()}, "split": split.params}
    return dataclasses.replace(split, name=protocol, params=params, log=lines + split.log)


def protocol_help() -> str:
    """One paragraph per protocol, for ``--help`` texts and the README."""
    return "\n\n".join(f"{name}: {spec.description}" for name, spec in PROTOCOLS.items())
