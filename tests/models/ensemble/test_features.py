"""Feature matrix: shapes, finiteness, cyclic context ranges, recency similarity."""

from __future__ import annotations

import numpy as np

from cinesync.data.history import HistoryBatch
from cinesync.models.ensemble.features import (
    CONTEXT,
    N_LAST,
    ItemStats,
    build_features,
    feature_names,
    recent_similarity,
)
from cinesync.ranking.candidates import union_topn


def test_shapes_and_finite(loo_split, valid_scores):
    hist, _, scores = valid_scores
    stats = ItemStats.from_train(loo_split.train)
    c = union_topn(scores, 10)
    X = build_features(scores, c, hist, stats, context=True, n_per_member=10)
    names = feature_names(len(scores), True)
    assert X.shape == (c.indptr[-1], len(names))
    assert X.dtype == np.float32 and np.isfinite(X).all()
    X0 = build_features(scores, c, hist, stats, context=False, n_per_member=10)
    assert X0.shape[1] == len(names) - len(CONTEXT)
    np.testing.assert_array_equal(X0, X[:, : X0.shape[1]])
    votes = X[:, names.index("votes")]
    # every candidate is in some member's top-10 (up to ties at the cut, which topk breaks arbitrarily)
    assert (votes >= 1).mean() > 0.95 and votes.max() <= len(scores)


def test_context_is_cyclic_and_in_range(loo_split, valid_scores):
    hist, _, scores = valid_scores
    stats = ItemStats.from_train(loo_split.train)
    c = union_topn(scores, 10)
    X = build_features(scores, c, hist, stats, context=True, n_per_member=10)
    names = feature_names(len(scores), True)
    for a, b in (("hour_sin", "hour_cos"), ("weekday_sin", "weekday_cos")):
        s, co = X[:, names.index(a)], X[:, names.index(b)]
        assert np.all(np.abs(s) <= 1) and np.all(np.abs(co) <= 1)
        np.testing.assert_allclose(s**2 + co**2, 1.0, atol=1e-5)
    assert (X[:, names.index("log_days_since_last")] >= 0).all()
    assert (X[:, names.index("log_item_age_days")] >= 0).all()


def test_known_hour_and_weekday():
    """A last interaction on Monday 1970-01-05 06:00 UTC -> hour angle 90 degrees, weekday 0."""
    from cinesync.data.synthetic import planted

    train = planted(n_users=8, n_items=12, per_user=4)
    stats = ItemStats.from_train(train)
    t = 4 * 86_400 + 6 * 3600
    hist = HistoryBatch.from_lists([[0, 1]], timestamps=[[t - 10, t]])
    scores = [np.arange(12, dtype=np.float32)[None, :]]
    c = union_topn(scores, 3)
    X = build_features(scores, c, hist, stats, context=True, n_per_member=3)
    names = feature_names(1, True)
    assert X[0, names.index("hour_sin")] == np.float32(1.0)
    assert abs(X[0, names.index("weekday_sin")]) < 1e-6 and X[0, names.index("weekday_cos")] == np.float32(1.0)


def test_no_timestamps_gives_zero_context():
    from cinesync.data.synthetic import planted

    stats = ItemStats.from_train(planted(n_users=8, n_items=12, per_user=4))
    hist = HistoryBatch.from_lists([[0, 1], []])
    scores = [np.tile(np.arange(12, dtype=np.float32), (2, 1))]
    c = union_topn(scores, 3)
    X = build_features(scores, c, hist, stats, context=True, n_per_member=3)
    assert np.isfinite(X).all()
    assert (X[:, -len(CONTEXT):-1] == 0).all()


def test_recent_similarity_prefers_cooccurring_items(loo_split):
    stats = ItemStats.from_train(loo_split.train)
    hist = loo_split.train.histories(np.arange(4))
    scores = [np.zeros((4, loo_split.n_items), np.float32)]
    c = union_topn(scores, loo_split.n_items)
    sim = recent_similarity(hist, c, stats)
    assert sim.shape == (c.indptr[-1], N_LAST) and (sim >= 0).all()
    # planted clusters: items of the last item's block co-occur far more with it
    block = np.array([g[0] for g in loo_split.train.catalog.column("genres")])
    last_block = block[[hist.row(i)[-1] for i in range(len(hist))]]
    own = block[c.items] == last_block[c.rows]
    assert sim[own, 0].mean() > 3 * sim[~own, 0].mean()
