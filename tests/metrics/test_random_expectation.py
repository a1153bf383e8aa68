"""``metrics.random_expectation``: the exact expected recall / NDCG of a uniformly random ranking."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cinesync.errors import DataError
from cinesync.metrics import random_expectation, ranking_metrics
from cinesync.ranking import recommend


def test_random_expectation_closed_form() -> None:
    # C = 20 candidates, R = 3 relevant: recall@10 = 10 / 20; DCG = 3/20 * sum_{i<=10} 1/log2(i+1)
    disc = 1.0 / np.log2(np.arange(2, 12))
    out = random_expectation(np.array([3, 1]), 20, [10])
    np.testing.assert_allclose(out["recall@10"], [0.5, 0.5])
    np.testing.assert_allclose(out["ndcg@10"], [3 / 20 * disc.sum() / disc[:3].sum(), 1 / 20 * disc.sum()])
    # fewer candidates than K: every relevant item is in the list
    np.testing.assert_allclose(random_expectation(np.array([2]), 5, [10])["recall@10"], [1.0])
    with pytest.raises(DataError):
        random_expectation(np.array([6]), 5, [10])


def test_random_expectation_matches_seeded_draws() -> None:
    rng = np.random.default_rng(0)
    n_users, c = 4000, 30
    n_rel = rng.integers(1, 8, size=n_users)
    targets = sp.lil_matrix((n_users, c))
    for u, r in enumerate(n_rel):
        targets[u, rng.choice(c, size=r, replace=False)] = 1
    top, _ = recommend(rng.random((n_users, c)), 20)
    drawn = ranking_metrics(top, targets.tocsr(), [10, 20])
    exact = random_expectation(n_rel, c, [10, 20])
    for m in ("recall@10", "recall@20", "ndcg@10"):
        assert drawn[m].mean() == pytest.approx(exact[m].mean(), abs=0.01), m
