"""Filters on hand-made data with known answers."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from cinesync.data.dataset import Interactions
from cinesync.data.filters import dedup, kcore, positive, summary, threshold
from cinesync.data.synthetic import power_law
from cinesync.errors import ConfigError, DataError


def make(rows: list[tuple], ts: bool = True) -> Interactions:
    cols = ["user", "item", "rating", "timestamp"][: len(rows[0])]
    df = pd.DataFrame(rows, columns=cols)
    if not ts and "timestamp" in df:
        df = df.drop(columns="timestamp")
    return Interactions.from_frame(df, name="tiny")


def rows_of(d: Interactions) -> list[tuple]:
    return [tuple(r) for r in d.to_frame().itertuples(index=False)]


def test_kcore_needs_two_rounds(caplog: pytest.LogCaptureFixture) -> None:
    # z has one rating -> (c, z) goes in round 1; then c has one rating left -> (c, y) goes in round 2.
    d = make([("a", "x", 1, 1), ("a", "y", 1, 2), ("b", "x", 1, 3), ("b", "y", 1, 4), ("c", "y", 1, 5),
              ("c", "z", 1, 6)])
    with caplog.at_level(logging.INFO, logger="cinesync.data.filters"):
        out = kcore(d, user_k=2, item_k=2)
    assert rows_of(out) == rows_of(d)[:4]
    assert out.users is d.users and out.items is d.items  # indexes kept
    assert "rounds=2" in caplog.text and "6 -> 4 interactions" in caplog.text
    assert out.reindexed().n_users == 2 and out.reindexed().n_items == 2


def test_kcore_matches_brute_force_on_random_data() -> None:
    d = power_law(300, 200, 3000, seed=1)
    out = kcore(d, 5, 3)
    uc, ic = out.user_counts(), out.item_counts()
    assert np.all((uc == 0) | (uc >= 5)) and np.all((ic == 0) | (ic >= 3))
    # maximality: the brute-force loop over a Python set of rows reaches the same core
    keep = set(range(len(d)))
    changed = True
    while changed:
        u = np.bincount(d.user[list(keep)], minlength=d.n_users)
        i = np.bincount(d.item[list(keep)], minlength=d.n_items)
        new = {r for r in keep if u[d.user[r]] >= 5 and i[d.item[r]] >= 3}
        changed, keep = new != keep, new
    assert len(out) == len(keep)
    assert kcore(d, 0, 0).checksum() == d.checksum()


def test_threshold_binarizes_or_keeps_values() -> None:
    d = make([("a", "x", 5.0, 1), ("a", "y", 3.0, 2), ("b", "x", 4.0, 3), ("b", "z", 1.0, 4)])
    out = threshold(d, 4.0)
    assert rows_of(out) == [("a", "x", 1.0, 1), ("b", "x", 1.0, 3)]
    assert threshold(d, 3.5, binarize=False).rating.tolist() == [5.0, 4.0]
    with pytest.raises(DataError, match="needs ratings"):
        threshold(positive(d).with_ratings(None), 1.0)


DUPS = [("a", "x", 1.0, 10), ("a", "x", 5.0, 20), ("a", "x", 3.0, 20), ("b", "y", 2.0, 5), ("a", "z", 4.0, 1)]


@pytest.mark.parametrize(("policy", "expected"), [
    ("last", [DUPS[2], DUPS[3], DUPS[4]]),   # time 20 tie -> the later line wins
    ("first", [DUPS[0], DUPS[3], DUPS[4]]),
    ("max", [DUPS[1], DUPS[3], DUPS[4]]),
    ("mean", [("a", "x", 3.0, 20), DUPS[3], DUPS[4]]),
    ("none", DUPS),
])
def test_dedup_policies(policy: str, expected: list[tuple]) -> None:
    d = make(DUPS)
    out = dedup(d, policy)  # type: ignore[arg-type]
    assert rows_of(out) == expected
    assert out.items is d.items


def test_dedup_without_timestamps_uses_file_order() -> None:
    d = make([r[:3] for r in DUPS])
    assert [r[2] for r in rows_of(dedup(d, "last"))] == [3.0, 2.0, 4.0]
    assert [r[2] for r in rows_of(dedup(d, "first"))] == [1.0, 2.0, 4.0]


def test_dedup_rejects_bad_policy_and_implicit_mean() -> None:
    d = make(DUPS)
    with pytest.raises(ConfigError, match="dedup policy"):
        dedup(d, "median")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs ratings"):
        dedup(d.with_ratings(None), "mean")
    with pytest.raises(ConfigError):
        kcore(d, -1, 1)


def test_positive_keeps_timestamps() -> None:
    d = make(DUPS)
    out = positive(d)
    assert out.rating.tolist() == [1.0] * 5 and out.timestamp.tolist() == d.timestamp.tolist()
    assert positive(d.with_ratings(None)).rating.tolist() == [1.0] * 5


def test_summary_counts_active_ids() -> None:
    d = make(DUPS)
    s = summary("x", d, d.with_rows(np.array([3])))
    assert s["before"] == {"interactions": 5, "users": 2, "items": 3}
    assert s["after"] == {"interactions": 1, "users": 1, "items": 1}
