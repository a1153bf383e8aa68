"""Named protocols: filtering, re-indexing, history semantics, leakage, determinism, real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cinesync.data.dataset import Interactions
from cinesync.data.protocols import PROTOCOLS, make_split, protocol_help
from cinesync.data.splits import Split, recbole_counts
from cinesync.errors import ConfigError


@pytest.fixture(scope="module")
def random_data() -> Interactions:
    """80 users x 15 distinct items of 40, ratings 1-5, random timestamps; plus 2 catalogue-only items."""
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", float(rng.integers(1, 6)), int(rng.integers(0, 10_000)))
            for u in range(80) for i in rng.choice(40, 15, replace=False)]
    df = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    catalog = pd.DataFrame({"item_id": [f"i{i}" for i in range(42)], "title": [f"T{i}" for i in range(42)]})
    return Interactions.from_frame(df, catalog=catalog)


def user_sets(part: Interactions) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for u, i in zip(part.user.tolist(), part.item.tolist(), strict=True):
        out.setdefault(u, set()).add(i)
    return out


def assert_no_leakage(split: Split) -> None:
    train, valid, test = (user_sets(p) for p in (split.train, split.valid, split.test))
    for u, items in test.items():
        assert not items & (train.get(u, set()) | valid.get(u, set()))
    for u, items in valid.items():
        assert not items & train.get(u, set())


def frames(split: Split) -> list[pd.DataFrame]:
    return [p.to_frame() for p in (split.train, split.valid, split.test)]


def test_unknown_protocol_and_option(random_data):
    with pytest.raises(ConfigError, match="available: loo, recbole-8-1-1, temporal, ratio"):
        make_split("nope", random_data)
    with pytest.raises(ConfigError, match="no option"):
        make_split("loo", random_data, ratios=(0.5, 0.5))


def test_every_protocol_is_documented():
    for name, spec in PROTOCOLS.items():
        assert spec.name == name and len(spec.description) > 100
        assert name in protocol_help()


@pytest.mark.parametrize("protocol", ["loo", "recbole-8-1-1", "temporal", "ratio"])
def test_protocols_no_leakage_and_deterministic(random_data, protocol):
    kw = {"user_k": 3, "item_k": 3} if protocol == "recbole-8-1-1" else {}
    a = make_split(protocol, random_data, seed=1, **kw)
    b = make_split(protocol, random_data, seed=1, **kw)
    assert_no_leakage(a)
    for fa, fb in zip(frames(a), frames(b), strict=True):
        pd.testing.assert_frame_equal(fa, fb)
    assert a.name == protocol and a.params["protocol"] == protocol and a.params["seed"] == 1
    assert a.log[0].startswith("input") and len(a.test) > 0
    # the universe is exactly the items left after filtering: catalogue-only items are gone
    seen = np.concatenate([a.train.item, a.valid.item, a.test.item])
    assert np.array_equal(np.unique(seen), np.arange(a.n_items))
    assert "i40" not in a.train.items


def test_ratio_protocol_seed_changes_split(random_data):
    a, b = make_split("ratio", random_data, seed=0), make_split("ratio", random_data, seed=1)
    assert not frames(a)[2].equals(frames(b)[2])


def test_loo_protocol_positive_dedup_and_history():
    df = pd.DataFrame([("u1", "a", 1.0, 1), ("u1", "b", 5.0, 2), ("u1", "a", 2.0, 3), ("u1", "c", 4.0, 4),
                       ("u1", "d", 1.0, 5), ("u2", "a", 3.0, 1), ("u2", "c", 3.0, 2)],
                      columns=["user", "item", "rating", "timestamp"])
    s = make_split("loo", Interactions.from_frame(df))
    assert s.test_history == "train+valid" and s.summary()["train"] == 2 + 2
    assert any("dedup" in line for line in s.log)
    hist, targets, exclude, users = s.test_queries()
    ids = s.train.items
    assert s.train.users.ids_of(users) == ["u1"]
    assert ids.ids_of(hist.row(0)) == ["b", "a", "c"]  # a's last copy (t=3) is kept; c is the valid item
    assert ids.ids_of(targets[0].indices) == ["d"]
    assert sorted(ids.ids_of(exclude[0].indices)) == ["a", "b", "c"]


def test_recbole_protocol_filters_and_counts(random_data):
    s = make_split("recbole-8-1-1", random_data, seed=3, user_k=3, item_k=3)
    assert s.test_history == "train"
    assert s.params["min_rating"] == 3.0 and s.params["ratios"] == [0.8, 0.1, 0.1]
    full = Interactions.concat([s.train, s.valid, s.test])
    assert full.user_counts().min() >= 3 and full.item_counts().min() >= 3
    kept = random_data.to_frame().query("rating >= 3")
    assert len(full) <= len(kept)
    tot = full.user_counts()
    for u in range(0, s.n_users, 7):
        got = [int((p.user == u).sum()) for p in (s.train, s.valid, s.test)]
        assert got == recbole_counts(int(tot[u]), (0.8, 0.1, 0.1))
    hist, targets, exclude, users = s.test_queries()
    train_len = s.train.user_counts()[users]
    assert np.array_equal(hist.lengths, train_len)  # the valid items are not in the test history
    valid_len = s.valid.user_counts()[users]
    assert np.array_equal(np.diff(exclude.indptr), train_len + valid_len)


@pytest.mark.realdata
def test_protocols_on_ml_latest_small():
    from cinesync.data.loaders import load_dataset

    data = load_dataset("ml-latest-small")
    loo = make_split("loo", data).summary()
    assert loo["test"] == loo["valid"] == loo["test_users"] == 610
    assert loo["users"] == 610 and loo["items"] == 9724 and loo["train"] == 100_836 - 2 * 610
    rb = make_split("recbole-8-1-1", data, seed=0).summary()
    # filter counts and per-user part sizes (RecBole's count rule) do not depend on the seed
    assert (rb["users"], rb["items"]) == (603, 1_862)
    assert (rb["train"], rb["valid"], rb["test"]) == (52_334, 6_213, 6_213)
    assert rb["test_users"] == rb["valid_users"] == 603
