"""Cold-start splits: held-out items stay out of training and are the only candidates, the new-item
variant of an existing split, simulated light users."""

from __future__ import annotations

import numpy as np
import pytest

from cinesync.data import coldstart as cs
from cinesync.data.synthetic import planted
from cinesync.errors import ConfigError
from cinesync.experiments.coldstart import rank_candidates
from cinesync.models import create


@pytest.fixture(scope="module")
def data():
    return planted(n_users=120, n_items=80, per_user=20)


def test_held_out_items_never_in_train(data) -> None:
    split = cs.new_item_split(data, frac=0.1, valid_frac=0.1, seed=3)
    assert len(split.test_items) == 8 and len(split.valid_items) == 8
    assert not set(split.test_items) & set(split.valid_items)
    train_items = set(np.unique(split.train.item))
    assert not train_items & set(split.test_items) and not train_items & set(split.valid_items)
    assert set(np.unique(split.test.item)) <= set(split.test_items)
    assert set(np.unique(split.valid.item)) <= set(split.valid_items)
    assert len(split.train) + len(split.valid) + len(split.test) == len(data)
    again = cs.new_item_split(data, frac=0.1, valid_frac=0.1, seed=3)
    np.testing.assert_array_equal(again.test_items, split.test_items)
    assert not np.array_equal(cs.new_item_split(data, 0.1, 0.1, seed=4).test_items, split.test_items)


def test_only_held_out_items_are_ranked(data) -> None:
    split = cs.new_item_split(data, seed=0)
    q = cs.cold_item_queries(split, "test")
    assert q.allowed.sum() == len(split.test_items)
    assert (split.test.user_counts()[q.users] > 0).all()
    for name in ("pop", "ease", "itemknn"):
        top = rank_candidates(create(name).fit(split.train), q, k=20)
        assert np.isin(top[top >= 0], split.test_items).all()
        assert ((top >= 0).sum(axis=1) == len(split.test_items)).all()  # 8 candidates < k: padded with -1
    vq = cs.cold_item_queries(split, "valid")
    top = rank_candidates(create("pop").fit(split.train), vq, k=5)
    assert np.isin(top, split.valid_items).all()
    with pytest.raises(ConfigError, match="part"):
        cs.cold_item_queries(split, "train")


def test_collaborative_models_cannot_score_unseen_items(data) -> None:
    """EASE / pop give every never-seen item the same score: their order over new items carries no signal."""
    split = cs.new_item_split(data, seed=0)
    q = cs.cold_item_queries(split, "test")
    for name in ("pop", "ease"):
        s = create(name).fit(split.train).score(q.history)[:, split.test_items]
        assert np.allclose(s, s[:, :1])


def test_light_user_split(data) -> None:
    ls = cs.light_user_split(data, light_frac=0.5, max_n=5, n_targets=10, valid_frac=0.5, seed=1)
    split = ls.split
    counts = split.train.user_counts()
    assert 0.3 < ls.light.mean() < 0.7
    assert ((counts[ls.light] >= 1) & (counts[ls.light] <= 5)).all()
    np.testing.assert_array_equal(counts[~ls.light], data.user_counts()[~ls.light] - 10)
    np.testing.assert_array_equal(counts, ls.n_train)
    valid_users = set(np.flatnonzero(split.valid.user_counts()))
    test_users = set(np.flatnonzero(split.test.user_counts()))
    assert not valid_users & test_users and len(valid_users | test_users) == data.n_users
    assert (np.maximum(split.valid.user_counts(), split.test.user_counts()) == 10).all()
    # targets come right after the training prefix in time
    last_train = np.zeros(data.n_users, np.int64)
    np.maximum.at(last_train, split.train.user, split.train.timestamp)
    for part in (split.valid, split.test):
        assert (part.timestamp > last_train[part.user]).all()
    first_dropped = data.user_counts() - counts - 10  # later interactions of light users are dropped
    assert len(split.train) + len(split.valid) + len(split.test) == len(data) - first_dropped.sum()


def test_bad_options(data) -> None:
    with pytest.raises(ConfigError):
        cs.new_item_split(data, frac=0.6, valid_frac=0.5)
    with pytest.raises(ConfigError):
        cs.light_user_split(data, max_n=0)


def test_held_out_items_lose_their_tags() -> None:
    import pandas as pd

    from cinesync.data.dataset import Interactions

    base = planted(n_users=60, n_items=40, per_user=10)
    frame = base.catalog.frame.drop(columns=["item_id"])
    frame["tags"] = [("tagged",)] * len(frame)
    data = Interactions.from_frame(base.to_frame(), catalog=pd.concat([base.catalog.frame[["item_id"]], frame],
                                                                       axis=1))
    split = cs.new_item_split(data, seed=0)
    tags = split.train.catalog.column("tags")
    held = np.concatenate([split.test_items, split.valid_items])
    assert all(tags[i] == () for i in held)
    keep = np.setdiff1d(np.arange(data.n_items), held)
    assert all(tags[i] == ("tagged",) for i in keep)
    assert split.test.catalog is split.train.catalog
    kept = cs.new_item_split(data, seed=0, strip_tags=False).train.catalog.column("tags")
    assert all(kept[i] == ("tagged",) for i in held)


def test_with_new_items_keeps_them_in_test_only(data) -> None:
    from cinesync.data.protocols import make_split

    split = make_split("recbole-8-1-1", data, seed=0)
    new_split, new = cs.with_new_items(split, 0.1, seed=1)
    trained = np.flatnonzero(split.train.item_counts() > 0)
    assert new.sum() == round(0.1 * len(trained)) and set(np.flatnonzero(new)) <= set(trained)
    assert not new[new_split.train.item].any() and not new[new_split.valid.item].any()
    assert new_split.test is split.test and new_split.train.items is split.train.items
    assert len(new_split.train) == int((~new[split.train.item]).sum()) and new[new_split.test.item].any()
    again, again_new = cs.with_new_items(split, 0.1, seed=1)
    np.testing.assert_array_equal(again_new, new)
    assert new_split.name.endswith("+new-items") and "new items" in new_split.log[-1]
    with pytest.raises(ConfigError, match="frac"):
        cs.with_new_items(split, 0.0, seed=1)
