"""Beyond-accuracy metrics on tiny inputs with known answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from cinesync.errors import DataError
from cinesync.eval.beyond import (
    activity_groups,
    average_popularity,
    coverage,
    gini,
    grouped_means,
    intra_list_diversity,
    long_tail_share,
    novelty,
    serendipity,
)


def test_coverage_ignores_padding() -> None:
    assert coverage(np.array([[0, 1, -1], [1, 2, -1]]), n_items=5) == pytest.approx(3 / 5)
    assert coverage(np.full((2, 3), -1), n_items=5) == 0


def test_gini_uniform_concentrated_and_hand_value() -> None:
    assert gini(np.array([[0, 1], [2, 3]]), n_items=4) == pytest.approx(0.0)
    # all exposure on one of 4 items: (n - 1) / n
    assert gini(np.array([[0], [0]]), n_items=4) == pytest.approx(0.75)
    # exposures (3, 2, 1): mean |xi - xj| over ordered pairs = 8 / 9, / (2 * mean 2) = 2 / 9
    assert gini(np.array([[2, 1, 0], [2, 1, -1], [2, -1, -1]]), n_items=3) == pytest.approx(2 / 9)
    assert math.isnan(gini(np.full((1, 2), -1), n_items=3))


FEATS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [-1.0, 0.0]])


def test_ild_dense_hand_values() -> None:
    top = np.array([[0, 1, 2], [0, 3, -1], [0, -1, -1], [0, 4, -1]])
    got = intra_list_diversity(top, FEATS)
    # list 0: sims 0, 1/sqrt2, 1/sqrt2 -> mean sqrt2 / 3; zero vector -> sim 0; one item -> NaN; opposite -> 2
    np.testing.assert_allclose(got, [1 - math.sqrt(2) / 3, 1.0, np.nan, 2.0])


def test_ild_sparse_genres_is_ochiai() -> None:
    # item 0 {a, b}, item 1 {b, c}, item 2 {d}: Ochiai(0, 1) = 1 / sqrt(2 * 2) = 0.5, others 0
    g = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]))
    np.testing.assert_allclose(intra_list_diversity(np.array([[0, 1, 2], [0, 1, -1]]), g), [5 / 6, 0.5])


def test_ild_matches_pairwise_loop_and_chunking() -> None:
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(30, 4))
    feats[3] = 0
    top = np.stack([rng.permutation(30)[:6] for _ in range(25)])
    top[0, 4:] = -1
    unit = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-300)
    expected = []
    for row in top:
        items = row[row >= 0]
        expected.append(np.mean([1 - unit[i] @ unit[j] for i, j in itertools.combinations(items, 2)]))
    np.testing.assert_allclose(intra_list_diversity(top, feats, chunk_elems=30), expected, rtol=1e-10)
    binary = (rng.random((30, 7)) < 0.4).astype(float)
    np.testing.assert_allclose(intra_list_diversity(top, sp.csr_matrix(binary)),
                               intra_list_diversity(top, binary), rtol=1e-12)


def test_novelty_self_information() -> None:
    counts = np.array([8, 4, 1, 0])  # -log2(c / 8) = 0, 1, 3, and 3 (zero count uses 1)
    got = novelty(np.array([[0, 1, -1], [2, 3, -1], [-1, -1, -1]]), counts, n_users=8)
    np.testing.assert_allclose(got, [0.5, 3.0, np.nan])


def test_serendipity_relevant_and_unexpected() -> None:
    targets = sp.csr_matrix(np.array([[1, 0, 1, 1, 0, 0], [0] * 6, [0, 0, 0, 0, 1, 0]]))
    top = np.array([[0, 2, 5], [0, 1, 2], [4, -1, -1]])
    expected = np.array([[0, 1], [0, 1], [-1, -1]])
    # user 0: relevant 0, 2; item 0 was expected -> 1 / 3. user 1: no relevant -> NaN. user 2: 1 / 3
    np.testing.assert_allclose(serendipity(top, targets, expected), [1 / 3, np.nan, 1 / 3])
    with pytest.raises(DataError):
        serendipity(top, targets, expected[:2])


def test_average_popularity() -> None:
    got = average_popularity(np.array([[0, 1], [2, -1], [-1, -1]]), np.array([10, 5, 0, 1]))
    np.testing.assert_allclose(got, [7.5, 0.0, np.nan])


def test_long_tail_share() -> None:
    counts = np.array([50, 40, 30, 20, 10, 5, 5, 1, 0, 0])  # head = top 20 % = items 0, 1
    np.testing.assert_allclose(long_tail_share(np.array([[0, 5, 9], [1, 0, -1]]), counts), [2 / 3, 0.0])
    # ties broken towards the lower index: head of 1 item = item 0
    np.testing.assert_allclose(long_tail_share(np.array([[0, 1, 2]]), np.array([5, 5, 5, 0, 0])), [2 / 3])
    # head_share 1: every item with a count is head, zero-count items stay tail
    np.testing.assert_allclose(long_tail_share(np.array([[0, 3]]), np.array([5, 5, 5, 0, 0]), 1.0), [0.5])


def test_activity_groups_quartiles_and_ties() -> None:
    np.testing.assert_array_equal(activity_groups(np.array([1, 2, 3, 4, 5, 6, 7, 8])), [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(activity_groups(np.array([8, 1, 7, 2, 6, 3, 5, 4])), [3, 0, 3, 0, 2, 1, 2, 1])
    # four users tied at the bottom share group 0; group 1 is empty
    np.testing.assert_array_equal(activity_groups(np.array([1, 1, 1, 1, 5, 6, 7, 8])), [0, 0, 0, 0, 2, 2, 3, 3])
    assert activity_groups(np.array([3, 3, 3]), n_groups=2).tolist() == [0, 0, 0]


def test_grouped_means_drop_nan() -> None:
    got = grouped_means(np.array([1.0, 2.0, np.nan, 4.0, np.nan]), np.array([0, 0, 1, 1, 2]))
    assert got[0] == 1.5 and got[1] == 4.0 and math.isnan(got[2])
    assert list(got) == [0, 1, 2]
