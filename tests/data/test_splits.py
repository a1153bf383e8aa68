"""Splits: exact hand-made cases, RecBole's count rule, leakage, determinism, queries and split dirs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cinesync.data.dataset import Interactions
from cinesync.data.split_io import read_split, write_split
from cinesync.data.splits import (
    Split,
    kfold,
    leave_last_out,
    ratio,
    recbole_counts,
    temporal,
)
from cinesync.errors import ConfigError, DataError


def frame(rows, cols=("user", "item", "timestamp")) -> Interactions:
    return Interactions.from_frame(pd.DataFrame(rows, columns=list(cols)))


@pytest.fixture
def ties() -> Interactions:
    """u1: a@10 b@30 c@20 d@30 (b, d tie: file order puts d last); u2: three ties; u3: too short."""
    return frame([("u1", "a", 10), ("u1", "b", 30), ("u2", "a", 5), ("u1", "c", 20), ("u2", "b", 5),
                  ("u1", "d", 30), ("u3", "a", 1), ("u2", "c", 5), ("u3", "e", 2)])


def items_of(part: Interactions, user: str) -> list[str]:
    """External item ids of ``user`` in ``part``, in row (file) order."""
    f = part.to_frame()
    return f.loc[f["user"] == user, "item"].tolist()


def per_user_sets(part: Interactions) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for u, i in zip(part.user.tolist(), part.item.tolist(), strict=True):
        out.setdefault(u, set()).add(i)
    return out


def assert_no_leakage(split: Split) -> None:
    train, valid, test = (per_user_sets(p) for p in (split.train, split.valid, split.test))
    for u, items in test.items():
        assert not items & train.get(u, set()), f"user {u}: test item also in train"
        assert not items & valid.get(u, set()), f"user {u}: test item also in valid"
    for u, items in valid.items():
        assert not items & train.get(u, set()), f"user {u}: valid item also in train"


def labels(split: Split) -> pd.DataFrame:
    return pd.concat([p.to_frame().assign(part=n) for n, p in
                      (("train", split.train), ("valid", split.valid), ("test", split.test))], ignore_index=True)


# ---- leave-last-out ------------------------------------------------------------
def test_loo_exact_with_timestamp_ties(ties):
    s = leave_last_out(ties)
    assert items_of(s.test, "u1") == ["d"] and items_of(s.valid, "u1") == ["b"]
    assert items_of(s.train, "u1") == ["a", "c"]
    assert items_of(s.test, "u2") == ["c"] and items_of(s.valid, "u2") == ["b"]
    assert items_of(s.train, "u3") == ["a", "e"] and items_of(s.test, "u3") == []
    assert s.name == "loo" and s.test_history == "train+valid"
    assert any("1 users with fewer than 3" in line for line in s.log)
    assert s.train.users is ties.users and s.test.items is ties.items


def test_loo_without_timestamps_uses_file_order(ties):
    s = leave_last_out(Interactions(ties.users, ties.items, ties.user, ties.item))
    assert items_of(s.test, "u1") == ["d"] and items_of(s.valid, "u1") == ["c"]


def test_loo_more_held_out(ties):
    s = leave_last_out(ties, n_valid=0, n_test=2)
    assert sorted(items_of(s.test, "u1")) == ["b", "d"] and len(s.valid) == 0
    assert items_of(s.test, "u3") == []  # 2 interactions < 3 needed
    with pytest.raises(ConfigError):
        leave_last_out(ties, n_test=0)


# ---- RecBole count rule / ratio ------------------------------------------------
@pytest.mark.parametrize(("tot", "expected"), [
    (10, [8, 1, 1]), (11, [9, 1, 1]), (3, [1, 1, 1]), (2, [1, 0, 1]), (1, [1, 0, 0]), (20, [16, 2, 2]),
    (15, [13, 1, 1]), (5, [3, 1, 1]),
])
def test_recbole_count_rule(tot, expected):
    assert recbole_counts(tot, (0.8, 0.1, 0.1)) == expected


def test_ratio_applies_count_rule_per_user():
    rows = [(f"u{t}", f"i{j}", j) for t in (10, 11, 3, 2, 1) for j in range(t)]
    s = ratio(frame(rows), seed=3)
    for t in (10, 11, 3, 2, 1):
        got = [len(items_of(p, f"u{t}")) for p in (s.train, s.valid, s.test)]
        assert got == recbole_counts(t, (0.8, 0.1, 0.1))
    assert s.test_history == "train"


def test_ratio_time_order_cuts_latest_last():
    rows = [("u", f"i{j}", 100 - j) for j in range(10)]  # i9 is the earliest, i0 the latest
    s = ratio(frame(rows), order="time")
    assert items_of(s.test, "u") == ["i0"] and items_of(s.valid, "u") == ["i1"]


def test_ratio_determinism(planted_data):
    a, b, c = ratio(planted_data, seed=1), ratio(planted_data, seed=1), ratio(planted_data, seed=2)
    pd.testing.assert_frame_equal(labels(a), labels(b))
    assert not labels(a).equals(labels(c))
    assert_no_leakage(a)
    with pytest.raises(ConfigError):
        ratio(planted_data, ratios=(0.8, 0.2))


# ---- temporal -----------------------------------------------------------------
def test_temporal_explicit_cutoffs_and_unseen():
    rows = [("u1", "a", 1), ("u2", "b", 2), ("u1", "b", 3), ("u2", "a", 4),  # train: t < 5
            ("u1", "c", 5), ("u2", "new", 6),                                  # valid: 5 <= t < 7
            ("u1", "new", 7), ("u2", "c", 8), ("cold", "a", 9)]               # test: t >= 7
    data = frame(rows)
    s = temporal(data, valid_time=5, test_time=7)
    assert items_of(s.valid, "u1") == [] and items_of(s.valid, "u2") == []  # c and new unseen in train
    assert items_of(s.test, "u2") == [] and items_of(s.test, "cold") == []
    assert len(s.test) == 0 and len(s.train) == 4
    assert any("2 test interactions with items unseen" in line and "1 more from users" in line for line in s.log)
    kept = temporal(data, valid_time=5, test_time=7, unseen="keep")
    assert (len(kept.train), len(kept.valid), len(kept.test)) == (4, 2, 3)
    assert kept.test_history == "train+valid"


def test_temporal_quantile_cutoffs():
    rows = [(f"u{j % 2}", f"i{j % 3}", j) for j in range(1, 11)]
    s = temporal(frame(rows), valid_frac=0.2, test_frac=0.2, unseen="keep")
    assert s.params["valid_time"] == 7 and s.params["test_time"] == 9
    assert sorted(s.test.timestamp.tolist()) == [9, 10] and sorted(s.valid.timestamp.tolist()) == [7, 8]


def test_temporal_needs_timestamps(ties):
    with pytest.raises(ConfigError, match="timestamps"):
        temporal(Interactions(ties.users, ties.items, ties.user, ties.item))
    with pytest.raises(ConfigError):
        temporal(ties, valid_time=9, test_time=3)


# ---- k-fold -------------------------------------------------------------------
def test_kfold_covers_every_row_once(planted_data):
    folds = kfold(planted_data, k=5, seed=7)
    seen = np.zeros(len(planted_data), int)
    key = {(u, i): r for r, (u, i) in enumerate(zip(planted_data.user.tolist(), planted_data.item.tolist(),
                                                     strict=True))}
    for f, s in enumerate(folds):
        assert s.name == f"kfold-{f + 1}of5" and len(s.valid) == 0 and s.test_history == "train"
        assert len(s.train) + len(s.test) == len(planted_data)
        for u, i in zip(s.test.user.tolist(), s.test.item.tolist(), strict=True):
            seen[key[(u, i)]] += 1
        assert_no_leakage(s)
    assert (seen == 1).all()
    sizes = [len(s.test) for s in folds]
    assert max(sizes) - min(sizes) <= len(planted_data) * 0.05
    assert [len(s.test) for s in kfold(planted_data, k=5, seed=7)] == sizes


# ---- queries ------------------------------------------------------------------
def test_queries_loo_history_includes_valid(ties):
    s = leave_last_out(ties)
    hist, targets, exclude, users = s.test_queries()
    ids = s.train.items
    u1 = int(np.flatnonzero(users == s.train.users.index("u1"))[0])
    assert ids.ids_of(hist.row(u1)) == ["a", "c", "b"]
    assert sorted(ids.ids_of(exclude[u1].indices)) == ["a", "b", "c"]
    assert ids.ids_of(targets[u1].indices) == ["d"]
    assert s.train.users.ids_of(users) == ["u1", "u2"]  # u3 has no test item
    hist, targets, exclude, users = s.valid_queries()
    assert ids.ids_of(hist.row(0)) == ["a", "c"] and ids.ids_of(targets[0].indices) == ["b"]
    assert sorted(ids.ids_of(exclude[0].indices)) == ["a", "c"]


def test_queries_train_history_excludes_valid():
    s = ratio(frame([("u", f"i{j}", j) for j in range(10)]), order="time")
    hist, targets, exclude, users = s.test_queries()
    ids = s.train.items
    assert ids.ids_of(hist.row(0)) == [f"i{j}" for j in range(8)]
    assert sorted(ids.ids_of(exclude[0].indices)) == sorted(f"i{j}" for j in range(9))
    assert ids.ids_of(targets[0].indices) == ["i9"]
    assert targets.shape == exclude.shape == (1, s.n_items)


def test_split_rejects_foreign_indexes(ties):
    other = frame([("x", "y", 1)])
    with pytest.raises(DataError):
        Split(ties, ties, other, "bad", {}, "train", [])


# ---- split directories --------------------------------------------------------
@pytest.mark.parametrize("cols", [("user", "item", "rating", "timestamp"), ("user", "item")])
def test_write_read_round_trip(tmp_path, planted_data, cols):
    df = planted_data.to_frame()[list(cols)]
    data = Interactions.from_frame(df, catalog=planted_data.catalog.frame)
    s = ratio(data, seed=5)
    write_split(s, tmp_path / "d")
    back = read_split(tmp_path / "d", catalog_from=data)
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(back, part).to_frame(), getattr(s, part).to_frame())
    assert back.name == f"dir:{tmp_path / 'd'}" and back.test_history == "train"  # from split.json
    assert back.train.users is back.test.users and back.train.items is back.valid.items
    title = back.train.catalog.column("title")[back.train.items.index("i3")]
    assert title == "Item 3"
    meta = json.loads((tmp_path / "d" / "split.json").read_text())
    assert meta["name"] == "ratio" and meta["params"]["seed"] == 5
    header = (tmp_path / "d" / "train.tsv").read_text().splitlines()[0]
    assert header == "user\titem\trating\ttimestamp"


def test_read_hand_made_dir_defaults(tmp_path):
    (tmp_path / "train.tsv").write_text("user\titem\trating\ttimestamp\nu1\ta\t\t\nu2\tb\t\t\n")
    (tmp_path / "valid.tsv").write_text("user\titem\trating\ttimestamp\n")
    (tmp_path / "test.tsv").write_text("user\titem\trating\ttimestamp\nu1\tc\t\t\n")
    s = read_split(tmp_path)
    assert s.test_history == "train+valid" and s.train.rating is None and s.train.timestamp is None
    assert s.n_items == 3 and s.n_users == 2 and len(s.valid) == 0


HEADER = "user\titem\trating\ttimestamp\n"


@pytest.mark.parametrize(("train", "match"), [
    (None, "train.tsv: missing"),
    ("user,item,rating,timestamp\nu\ta\t1\t1\n", "train.tsv, line 1: header"),
    (HEADER + "u\ta\t4\t1\nu\tb\tgood\t2\n", "train.tsv, line 3, column rating: expected a number"),
    (HEADER + "u\ta\t4\t1.5\n", "train.tsv, line 2, column timestamp: expected an integer"),
    (HEADER, "train.tsv: no interactions"),
    (HEADER + "u\ta\t4\t1\t9\n", "train.tsv"),
    (HEADER + "u\ta\t4\n", "train.tsv, line 2: expected 4"),
    (HEADER + "u\t\t4\t1\n", "train.tsv, line 2, column item: empty id"),
])
def test_malformed_split_dir(tmp_path, train, match):
    if train is not None:
        (tmp_path / "train.tsv").write_text(train)
    (tmp_path / "valid.tsv").write_text(HEADER)
    (tmp_path / "test.tsv").write_text(HEADER + "u\tc\t3\t9\n")
    with pytest.raises(DataError, match=match):
        read_split(tmp_path)


def test_mixed_missing_rating_is_an_error(tmp_path):
    (tmp_path / "train.tsv").write_text(HEADER + "u\ta\t4\t1\n")
    (tmp_path / "valid.tsv").write_text(HEADER)
    (tmp_path / "test.tsv").write_text(HEADER + "u\tc\t\t9\n")
    with pytest.raises(DataError, match="test.tsv, line 2, column rating"):
        read_split(tmp_path)
