"""Cold-start protocols: held-out items stay out of training, only they are ranked, random baseline math,
simulated light users."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cinesync.data.synthetic import planted
from cinesync.errors import ConfigError, DataError
from cinesync.eval import coldstart as cs
from cinesync.eval.metrics import ranking_metrics
from cinesync.models import create
from cinesync.ranking import recommend


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
        top = cs.rank_candidates(create(name).fit(split.train), q, k=20)
        assert np.isin(top[top >= 0], split.test_items).all()
        assert ((top >= 0).sum(axis=1) == len(split.test_items)).all()  # 8 candidates < k: padded with -1
    vq = cs.cold_item_queries(split, "valid")
    top = cs.rank_candidates(create("pop").fit(split.train), vq, k=5)
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


def test_random_expectation_closed_form() -> None:
    # C = 20 candidates, R = 3 relevant: recall@10 = 10 / 20; DCG = 3/20 * sum_{i<=10} 1/log2(i+1)
    disc = 1.0 / np.log2(np.arange(2, 12))
    out = cs.random_expectation(np.array([3, 1]), 20, [10])
    np.testing.assert_allclose(out["recall@10"], [0.5, 0.5])
    np.testing.assert_allclose(out["ndcg@10"], [3 / 20 * disc.sum() / disc[:3].sum(), 1 / 20 * disc.sum()])
    # fewer candidates than K: every relevant item is in the list
    np.testing.assert_allclose(cs.random_expectation(np.array([2]), 5, [10])["recall@10"], [1.0])
    with pytest.raises(DataError):
        cs.random_expectation(np.array([6]), 5, [10])


def test_random_expectation_matches_seeded_draws() -> None:
    rng = np.random.default_rng(0)
    n_users, c = 4000, 30
    n_rel = rng.integers(1, 8, size=n_users)
    targets = sp.lil_matrix((n_users, c))
    for u, r in enumerate(n_rel):
        targets[u, rng.choice(c, size=r, replace=False)] = 1
    top, _ = recommend(rng.random((n_users, c)), 20)
    drawn = ranking_metrics(top, targets.tocsr(), [10, 20])
    exact = cs.random_expectation(n_rel, c, [10, 20])
    for m in ("recall@10", "recall@20", "ndcg@10"):
        assert drawn[m].mean() == pytest.approx(exact[m].mean(), abs=0.01), m


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


def test_summarise_gives_ci(data) -> None:
    v = {"recall@10": np.array([0.0, 1.0, 0.5, np.nan])}
    s = cs.summarise(v)["recall@10"]
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.5) and s["lo"] <= 0.5 <= s["hi"]
    assert cs.summarise(v, mask=np.array([True, False, False, False]))["recall@10"]["mean"] == 0.0


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


def test_ties_are_broken_in_seeded_random_order(data) -> None:
    split = cs.new_item_split(data, frac=0.3, valid_frac=0.1, seed=0)
    q = cs.cold_item_queries(split, "test")
    pop = create("pop").fit(split.train)  # every held-out item scores 0
    shuffled = cs.rank_candidates(pop, q, k=5, tie_seed=1)
    assert np.isin(shuffled, split.test_items).all()
    np.testing.assert_array_equal(shuffled, cs.rank_candidates(pop, q, k=5, tie_seed=1))
    assert not np.array_equal(shuffled, cs.rank_candidates(pop, q, k=5, tie_seed=2))
    # over many seeds each held-out item leads the list about equally often (a uniform random order)
    firsts = np.array([cs.rank_candidates(pop, q, k=1, tie_seed=s)[0, 0] for s in range(400)])
    share = np.array([(firsts == i).mean() for i in split.test_items])
    assert share.max() < 3.0 / len(split.test_items)


def test_tie_order_does_not_change_real_score_differences(data) -> None:
    split = cs.new_item_split(data, seed=0)
    q = cs.cold_item_queries(split, "test")

    class Fixed(type(create("pop"))):
        """Distinct scores for every item: the ranking must not depend on the tie seed."""

        def _score(self, batch):
            return np.tile(np.arange(self.popularity_.size, dtype=np.float32)[::-1], (len(batch), 1))

    model = Fixed().fit(split.train)
    a = cs.rank_candidates(model, q, k=5, tie_seed=None)
    np.testing.assert_array_equal(a, cs.rank_candidates(model, q, k=5, tie_seed=9))
    np.testing.assert_array_equal(a[0], split.test_items[:5])
