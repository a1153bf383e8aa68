"""Inner pools: the protocol's holdout applied inside train gives the ranker more queries, never
touching validation or test interactions; held-out users stay on the held-out side."""

from __future__ import annotations

import numpy as np
import pytest

from cinesync.errors import ConfigError
from cinesync.models.ensemble.augment import augment_for, inner_split
from cinesync.models.ensemble.combiner import (
    BASE_SCALES,
    LEGACY_BASE_SCALE,
    Pool,
    _InnerPool,
    apply_combiner,
    fit_combiner,
)
from cinesync.models.ensemble.features import ItemStats
from cinesync.ranking.candidates import masked

from .conftest import fit_members


def _pairs(part) -> set[tuple[int, int, float]]:
    ts = part.timestamp if part.timestamp is not None else np.zeros(len(part))
    return set(zip(part.user.tolist(), part.item.tolist(), ts.tolist(), strict=True))


@pytest.mark.parametrize("kind", ["last", "random"])
def test_inner_split_partitions_train_only(loo_split, kind):
    inner = inner_split(loo_split.train, kind, seed=0)
    assert inner is not None
    assert len(inner.train) + len(inner.valid) + len(inner.test) == len(loo_split.train)
    union = _pairs(inner.train) | _pairs(inner.valid) | _pairs(inner.test)
    assert union == _pairs(loo_split.train)
    # nothing of the outer validation or test part is inside
    assert not (union & (_pairs(loo_split.valid) | _pairs(loo_split.test)))
    assert len(inner.valid) > 0 and len(inner.test) > 0


def test_last_inner_split_holds_out_each_users_newest_training_items(loo_split):
    inner = inner_split(loo_split.train, "last")
    train = loo_split.train
    for u in range(0, train.n_users, 17):
        newest = train.histories(np.array([u])).row(0)[-2:]
        assert inner.valid.histories(np.array([u])).row(0).tolist() == [newest[0]]
        assert inner.test.histories(np.array([u])).row(0).tolist() == [newest[1]]


def test_augment_kind_mirrors_the_protocol(loo_split, ratio_split):
    assert augment_for(loo_split) == "last"
    assert augment_for(ratio_split) == "random"
    assert inner_split(loo_split.train, "none") is None
    with pytest.raises(ConfigError, match="unknown augment"):
        inner_split(loo_split.train, "sideways")


def _pools(split):
    members = fit_members(split, ("itemknn", "pop"))
    stats = ItemStats.from_train(split.train)
    vh, vt, vex, _ = split.valid_queries()
    vpool = Pool.build([masked(m.score(vh), vex) for m in members], vh, stats, 15)
    inner = inner_split(split.train, "last")
    again = fit_members(inner, ("itemknn", "pop"))
    istats = ItemStats.from_train(inner.train)
    extra = []
    for h, t, ex, _ in (inner.valid_queries(), inner.test_queries()):
        extra.append((Pool.build([masked(m.score(h), ex) for m in again], h, istats, 15), t))
    return vpool, vt, extra


def test_inner_queries_split_by_held_out_user(loo_split):
    _, _, extra = _pools(loo_split)
    pool, targets = extra[0]
    held_users = pool.users[::5]
    fit, held = _InnerPool.of(pool, targets, np.ones(pool.n_members)).split(True, held_users)
    labels = pool.cands.labels(targets)
    useful = int((np.bincount(pool.cands.rows, weights=labels, minlength=len(pool.cands)) > 0).sum())
    assert len(fit.groups) + len(held.groups) == useful
    assert len(held.groups) > 0 and len(fit.groups) > len(held.groups)
    assert fit.X.shape[0] == fit.groups.sum() and held.y.sum() >= len(held.groups)


def test_ranker_uses_inner_queries_and_records_choices(loo_split):
    vpool, vt, extra = _pools(loo_split)
    plain = fit_combiner("ranker", vpool, vt, seed=0, max_rounds=20, context=False)
    more = fit_combiner("ranker", vpool, vt, seed=0, max_rounds=20, context="auto", extra=extra)
    assert plain["n_inner_queries"] == 0 and more["n_inner_queries"] > 0
    assert more["n_queries"] == plain["n_queries"] + more["n_inner_queries"]
    assert more["context"] in (True, False)
    assert more["base_scale"] in BASE_SCALES
    assert np.isfinite(apply_combiner(more, vpool)).all()


def test_auto_base_scale_is_chosen_on_held_out_users(loo_split):
    vpool, vt, extra = _pools(loo_split)
    auto = fit_combiner("ranker", vpool, vt, seed=0, max_rounds=20, context=False, extra=extra)
    trials = auto["trials"]
    first = trials[: len(BASE_SCALES)]  # the first grid setting at every scale
    assert [t["scale"] for t in first] == list(BASE_SCALES)
    chosen = max(first, key=lambda t: t["holdout_ndcg@10"])["scale"]
    assert auto["base_scale"] == chosen
    # the other settings are tried at the chosen scale only, and the best of those is kept
    assert all(t["scale"] == chosen for t in trials[len(BASE_SCALES):])
    assert auto["holdout_ndcg"] == max(t["holdout_ndcg@10"] for t in trials if t["scale"] == chosen)
    # the same model as asking for that scale outright, and it is applied at that scale
    fixed = fit_combiner("ranker", vpool, vt, seed=0, max_rounds=20, context=False, extra=extra,
                         base_scale=chosen)
    assert fixed["model_text"] == auto["model_text"] and fixed["base_scale"] == chosen
    np.testing.assert_array_equal(apply_combiner(fixed, vpool), apply_combiner(auto, vpool))
    other = {**auto, "base_scale": max(BASE_SCALES) if chosen != max(BASE_SCALES) else 0.0}
    assert not np.array_equal(apply_combiner(other, vpool), apply_combiner(auto, vpool))


def test_base_scale_zero_and_legacy_rankers(loo_split):
    vpool, vt, _ = _pools(loo_split)
    zero = fit_combiner("ranker", vpool, vt, seed=0, max_rounds=20, base_scale=0.0)
    assert zero["base_scale"] == 0.0
    legacy = fit_combiner("ranker", vpool, vt, seed=0, max_rounds=20, base_scale=LEGACY_BASE_SCALE)
    old = {k: v for k, v in legacy.items() if k != "base_scale"}  # saved before the scale was a setting
    np.testing.assert_array_equal(apply_combiner(old, vpool), apply_combiner(legacy, vpool))
    for bad in (-1.0, "big", float("nan")):
        with pytest.raises(ConfigError, match="base_scale"):
            fit_combiner("ranker", vpool, vt, base_scale=bad)
    with pytest.raises(ConfigError, match="context"):
        fit_combiner("ranker", vpool, vt, context="sometimes")
