"""The LambdaRank combiner: learns from validation labels only, and never sees test labels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cinesync.data.dataset import Interactions
from cinesync.errors import DataError
from cinesync.experiments.ensemble import run_ensemble
from cinesync.metrics.candidates import candidate_metrics
from cinesync.models.ensemble.combiner import Pool, apply_combiner, fit_combiner
from cinesync.models.ensemble.features import ItemStats
from cinesync.models.ensemble.ranker import fit_ranker, predict, split_queries, user_folds


def _permuted_test(split):
    """The same split with every test target replaced by a random other item."""
    test = split.test
    rng = np.random.default_rng(7)
    item = rng.permutation(test.item)
    part = Interactions(test.users, test.items, test.user, item, test.rating, test.timestamp, test.catalog,
                        name=test.name)
    return dataclasses.replace(split, test=part)


def test_ranker_ignores_test_labels(loo_split):
    members = [("itemknn", {}), ("pop", {})]
    a = run_ensemble(loo_split, members, n_candidates=15, tune_classical=False,
                     max_rounds=15)
    b = run_ensemble(_permuted_test(loo_split), members, n_candidates=15, tune_classical=False,
                     max_rounds=15)
    rows_a = {r["name"]: r for r in a["table"]}
    rows_b = {r["name"]: r for r in b["table"]}
    for name in ("ranker", "weighted", "adaptive"):
        assert rows_a[name]["config"] == rows_b[name]["config"]  # identical fitted combiners
        assert rows_a[name]["valid_ndcg@10"] == rows_b[name]["valid_ndcg@10"]
    assert rows_a["ranker"]["config"]["model_sha256"] == rows_b["ranker"]["config"]["model_sha256"]
    assert a["augment"] == "last" and a["inner_pools"]  # inner pools were built and used...
    assert rows_a["ranker"]["config"]["n_inner_queries"] > 0  # ...and they read train only
    assert rows_a["ranker"]["ndcg@10"] != rows_b["ranker"]["ndcg@10"]  # test metrics did change
    assert rows_a["ranker"]["config"]["bagged_models"] == 3  # the fold models are covered by the hash too
    assert "bag_texts" not in rows_a["ranker (no bagging)"]["config"]
    assert rows_a["ranker (no bagging)"]["config"]["bagged_models"] == 0


def test_bagged_ranker_averages_its_fold_models(loo_split, valid_scores):
    import lightgbm as lgb

    hist, targets, scores = valid_scores
    pool = Pool.build(scores, hist, ItemStats.from_train(loo_split.train), 10)
    labels = pool.cands.labels(targets)
    folds = [(f, h, [], []) for f, h in user_folds(pool.cands, labels, 3, seed=0)]
    base = pool.z.sum(axis=1)
    fit = fit_ranker(pool.X, labels, pool.cands, max_rounds=15, folds=folds, base_score=base, bag=True)
    plain = fit_ranker(pool.X, labels, pool.cands, max_rounds=15, folds=folds, base_score=base)
    assert len(fit.bag_texts) == 3 and plain.bag_texts == []
    assert fit.model_text == plain.model_text  # bagging changes nothing but what is kept
    each = [lgb.Booster(model_str=t).predict(pool.X) for t in [fit.model_text, *fit.bag_texts]]
    bagged = predict(fit.model_text, pool.X, base_score=base, bag_texts=fit.bag_texts)
    np.testing.assert_allclose(bagged, np.mean(each, axis=0) + base)
    assert not np.allclose(bagged, predict(fit.model_text, pool.X, base_score=base))


def test_ranker_learns_on_planted_data(loo_split):
    """Valid-trained ranker over itemknn + pop beats pop alone on test."""
    from cinesync.ranking.candidates import masked

    from .conftest import fit_members

    members = fit_members(loo_split, ("itemknn", "pop"))
    stats = ItemStats.from_train(loo_split.train)
    vh, vt, vex, _ = loo_split.valid_queries()
    th, tt, tex, _ = loo_split.test_queries()
    vpool = Pool.build([masked(m.score(vh), vex) for m in members], vh, stats, 20)
    tpool = Pool.build([masked(m.score(th), tex) for m in members], th, stats, 20)
    state = fit_combiner("ranker", vpool, vt, seed=0, max_rounds=60)
    assert state["model_text"].startswith("tree")
    labels = tpool.cands.labels(tt)
    nt = np.diff(tt.indptr)
    ranker = np.nanmean(candidate_metrics(tpool.cands, apply_combiner(state, tpool), labels, nt)["ndcg@10"])
    pop = np.nanmean(candidate_metrics(tpool.cands, -tpool.ranks[:, 1], labels, nt)["ndcg@10"])
    assert ranker > pop + 0.1


def test_user_level_holdout_is_disjoint(loo_split, valid_scores):
    hist, targets, scores = valid_scores
    pool = Pool.build(scores, hist, ItemStats.from_train(loo_split.train), 10)
    fit, hold = split_queries(pool.cands, pool.cands.labels(targets), seed=0)
    assert len(np.intersect1d(fit, hold)) == 0
    assert len(hold) == pytest.approx(0.2 * (len(fit) + len(hold)), abs=1)


def test_too_few_useful_queries_raises(loo_split, valid_scores):
    hist, targets, scores = valid_scores
    pool = Pool.build(scores, hist, ItemStats.from_train(loo_split.train), 10)
    with pytest.raises(DataError, match="validation queries"):
        fit_combiner("ranker", pool, targets * 0)


def test_user_folds_hold_out_every_useful_query_once(loo_split, valid_scores):
    from cinesync.models.ensemble.ranker import user_folds

    hist, targets, scores = valid_scores
    pool = Pool.build(scores, hist, ItemStats.from_train(loo_split.train), 10)
    labels = pool.cands.labels(targets)
    useful = np.flatnonzero(np.bincount(pool.cands.rows, weights=labels, minlength=len(pool.cands)) > 0)
    folds = user_folds(pool.cands, labels, 3, seed=0)
    held = np.concatenate([h for _, h in folds])
    np.testing.assert_array_equal(np.sort(held), useful)  # each useful query held out exactly once
    for fit, hold in folds:
        assert len(np.intersect1d(fit, hold)) == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([fit, hold])), useful)
    one = user_folds(pool.cands, labels, 1, seed=0)
    np.testing.assert_array_equal(one[0][1], split_queries(pool.cands, labels, seed=0)[1])
    state = fit_combiner("ranker", pool, targets, seed=0, max_rounds=10, folds=3)
    assert state["folds"] == 3 and len(state["trials"][0]["fold_ndcg@10"]) == 3
    with pytest.raises(Exception, match="folds"):
        fit_combiner("ranker", pool, targets, folds=0)
