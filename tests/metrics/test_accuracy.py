"""Ranking / rating metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from cinesync.errors import DataError
from cinesync.metrics import (
    hits,
    mae,
    per_user_absolute_error,
    per_user_squared_error,
    ranking_metrics,
    rmse,
    sampled_ranking_metrics,
)
from cinesync.ranking import topk


def _targets(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_items))


L2, L4, L6 = math.log2(3), math.log2(4), math.log2(6)

# user 0: top [3, 1, 4, 0, 5], relevant {1, 5, 9} -> hits at ranks 2 and 5 (R = 3)
# user 1: top [2, 7, 8, -1, -1] (padded), relevant {2, 8} -> hits at ranks 1 and 3 (R = 2 < K)
# user 2: no relevant items -> NaN everywhere
# user 3: top [6, 0, 1, 2, 3], relevant {9} -> no hits
TOP = np.array([[3, 1, 4, 0, 5], [2, 7, 8, -1, -1], [0, 1, 2, 3, 4], [6, 0, 1, 2, 3]])
TARGETS = _targets([[1, 5, 9], [2, 8], [], [9]], n_items=10)
IDCG2 = 1 + 1 / L2
IDCG3 = 1 + 1 / L2 + 1 / L4
EXPECTED = {
    # K = 5
    "hr@5": [1, 1, np.nan, 0],
    "recall@5": [2 / 3, 1, np.nan, 0],
    "precision@5": [2 / 5, 2 / 5, np.nan, 0],
    "ndcg@5": [(1 / L2 + 1 / L6) / IDCG3,  # DCG 1/log2(3) + 1/log2(6) over ideal of 3 items
               (1 + 1 / L4) / IDCG2,  # ideal uses min(R=2, K=5) = 2 items
               np.nan, 0],
    "mrr@5": [1 / 2, 1, np.nan, 0],
    "map@5": [(1 / 2 + 2 / 5) / 3,  # P@2 + P@5 over min(3, 5)
              (1 / 1 + 2 / 3) / 2,  # P@1 + P@3 over min(2, 5)
              np.nan, 0],
    # K = 2: user 0 keeps the rank-2 hit only, user 1 the rank-1 hit only
    "hr@2": [1, 1, np.nan, 0],
    "recall@2": [1 / 3, 1 / 2, np.nan, 0],
    "precision@2": [1 / 2, 1 / 2, np.nan, 0],
    "ndcg@2": [(1 / L2) / IDCG2, 1 / IDCG2, np.nan, 0],
    "mrr@2": [1 / 2, 1, np.nan, 0],
    "map@2": [(1 / 2) / 2, 1 / 2, np.nan, 0],
}


def test_hits_hand_example() -> None:
    h = hits(TOP, TARGETS)
    assert h.dtype == bool and h.shape == TOP.shape
    np.testing.assert_array_equal(h[0], [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(h[1], [1, 0, 1, 0, 0])
    assert not h[2].any() and not h[3].any()


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_ranking_metrics_hand_example(key: str) -> None:
    got = ranking_metrics(TOP, TARGETS, ks=[2, 5])
    assert set(got) == set(EXPECTED)
    np.testing.assert_allclose(got[key], EXPECTED[key], rtol=1e-12, equal_nan=True)


def test_all_hits_give_one() -> None:
    got = ranking_metrics(np.array([[0, 1, 2]]), _targets([[0, 1, 2]], 4), ks=[1, 3])
    for key, v in got.items():
        np.testing.assert_allclose(v, [1 / 3 if key == "recall@1" else 1.0], err_msg=key)  # recall@1 = 1 / |rel|


def test_hit_at_rank_k_and_k_plus_one() -> None:
    top = np.array([[0, 1, 2, 3]])
    got = ranking_metrics(top, _targets([[2]], 4), ks=[2, 3])
    # relevant item at rank 3: inside @3, outside @2
    assert got["hr@3"][0] == 1 and got["hr@2"][0] == 0
    assert got["mrr@3"][0] == pytest.approx(1 / 3) and got["mrr@2"][0] == 0
    assert got["ndcg@3"][0] == pytest.approx(1 / math.log2(4)) and got["ndcg@2"][0] == 0
    assert got["map@3"][0] == pytest.approx(1 / 3) and got["map@2"][0] == 0


def test_recall_with_more_relevant_than_k() -> None:
    got = ranking_metrics(np.array([[0, 1]]), _targets([[0, 1, 2, 3, 4]], 6), ks=[2])
    assert got["recall@2"][0] == pytest.approx(2 / 5)  # hits / |rel|, cannot reach 1
    assert got["precision@2"][0] == 1 and got["ndcg@2"][0] == pytest.approx(1)
    assert got["map@2"][0] == pytest.approx(1)  # normalised by min(|rel|, K)


def test_k_larger_than_catalogue_uses_padding() -> None:
    scores = np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]])
    top, _ = topk(scores, 5)  # only 3 items: last two columns are -1
    assert (top[:, 3:] == -1).all()
    got = ranking_metrics(top, _targets([[1, 2], [2]], 3), ks=[5])
    np.testing.assert_allclose(got["recall@5"], [1, 1])
    np.testing.assert_allclose(got["precision@5"], [2 / 5, 1 / 5])  # pads count as misses
    np.testing.assert_allclose(got["ndcg@5"], [1, 1 / L4])
    np.testing.assert_allclose(got["mrr@5"], [1, 1 / 3])


def test_no_relevant_items_is_nan() -> None:
    got = ranking_metrics(np.array([[0, 1]]), sp.csr_matrix((1, 3)), ks=[1, 2])
    assert all(np.isnan(v).all() for v in got.values())


def test_k_wider_than_top_raises_value_error() -> None:
    with pytest.raises(ValueError, match="1..5"):
        ranking_metrics(TOP, TARGETS, ks=[10])
    with pytest.raises(ValueError):
        ranking_metrics(TOP, TARGETS, ks=[0])


def test_bad_inputs_raise_data_error() -> None:
    with pytest.raises(DataError, match="only 10 items"):
        hits(np.array([[10]] * 4), TARGETS)
    with pytest.raises(DataError, match="rows"):
        hits(TOP[:2], TARGETS)
    with pytest.raises(DataError, match="integer"):
        hits(TOP.astype(float), TARGETS)


def test_non_canonical_targets() -> None:
    # duplicate entry for (0, 1) and an explicit zero at (0, 3): relevant = {1}
    t = sp.csr_matrix((np.array([1.0, 1.0, 0.0]), np.array([1, 1, 3]), np.array([0, 3])), shape=(1, 5))
    got = ranking_metrics(np.array([[3, 1]]), t, ks=[2])
    assert got["recall@2"][0] == 1 and got["mrr@2"][0] == pytest.approx(1 / 2)


def test_hits_match_dense_gather_on_random_data() -> None:
    rng = np.random.default_rng(0)
    n, m, k = 200, 50, 10
    dense = rng.random((n, m)) < 0.1
    top = np.argsort(rng.random((n, m)), axis=1)[:, :k]
    top[rng.random((n, k)) < 0.1] = -1
    expected = np.take_along_axis(dense, np.maximum(top, 0), axis=1) & (top >= 0)
    np.testing.assert_array_equal(hits(top, sp.csr_array(dense.astype(np.float32))), expected)


def test_rating_errors() -> None:
    pred, true, user = np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0]), np.array([0, 0, 2])
    assert rmse(pred, true) == pytest.approx(math.sqrt(5 / 3))  # errors 0, 1, 2
    assert mae(pred, true) == pytest.approx(1.0)
    np.testing.assert_allclose(per_user_squared_error(pred, true, user, n_users=4), [0.5, np.nan, 4, np.nan])
    np.testing.assert_allclose(per_user_absolute_error(pred, true, user), [0.5, np.nan, 2])
    assert math.isnan(rmse(np.array([]), np.array([])))
    with pytest.raises(DataError):
        rmse(pred, true[:2])


def test_sampled_metrics_warn_and_rank_pessimistically() -> None:
    pos = np.array([0.5, 2.0])
    neg = np.array([[0.9, 0.1, 0.5], [0.0, 1.0, 1.5]])
    with pytest.warns(UserWarning, match="Krichene"):
        got = sampled_ranking_metrics(pos, neg, ks=[1, 3])
    # user 0: 0.9 above, 0.5 tied (counted above) -> rank 3; user 1: rank 1
    np.testing.assert_allclose(got["sampled_hr@1"], [0, 1])
    np.testing.assert_allclose(got["sampled_hr@3"], [1, 1])
    np.testing.assert_allclose(got["sampled_ndcg@3"], [0.5, 1])
    np.testing.assert_allclose(got["sampled_mrr@3"], [1 / 3, 1])
    assert not any(k.startswith(("hr@", "ndcg@")) for k in got)
