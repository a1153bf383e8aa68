"""Candidate union, labels, recall and full-ranking ranks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cinesync.errors import ConfigError
from cinesync.metrics.candidates import candidate_recall
from cinesync.ranking.candidates import full_ranks, gather, masked, union_topn


def test_union_of_top_n_hand_example():
    a = np.array([[5, 4, 3, 2, 1], [1, 2, 3, 4, 5]], np.float32)
    b = np.array([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], np.float32)
    c = union_topn([a, b], 2)
    assert c.indptr.tolist() == [0, 4, 6]
    assert c.items.tolist() == [0, 1, 3, 4, 3, 4]
    assert c.rows.tolist() == [0, 0, 0, 0, 1, 1]
    assert gather(a, c).tolist() == [5, 4, 2, 1, 4, 5]


def test_seen_items_never_candidates():
    scores = np.arange(12, dtype=np.float32).reshape(2, 6)
    seen = sp.csr_matrix(np.array([[0, 0, 0, 0, 1, 1], [1, 0, 0, 0, 0, 1]]))
    c = union_topn([masked(scores, seen)], 3)
    assert c.items.tolist() == [1, 2, 3, 2, 3, 4]
    assert c.sizes.tolist() == [3, 3]


def test_rows_with_fewer_candidates_than_n():
    scores = np.full((1, 4), -np.inf, np.float32)
    scores[0, 2] = 1.0
    c = union_topn([scores], 3)
    assert c.items.tolist() == [2]


def test_labels_and_recall():
    a = np.array([[5, 4, 3, 2, 1]], np.float32)
    c = union_topn([a], 2)
    targets = sp.csr_matrix(np.array([[1, 0, 0, 1, 0]]))
    assert c.labels(targets).tolist() == [1.0, 0.0]
    assert candidate_recall(c, targets) == pytest.approx(0.5)


def test_full_ranks_match_argsort():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(4, 30)).astype(np.float32)
    c = union_topn([s, -s], 5)
    r = full_ranks(s, c)
    expected = np.argsort(np.argsort(-s, axis=1, kind="stable"), axis=1)[c.rows, c.items]
    np.testing.assert_array_equal(r, expected)


def test_bad_input_errors():
    with pytest.raises(ConfigError, match="at least one member"):
        union_topn([], 10)
    with pytest.raises(ConfigError, match="positive"):
        union_topn([np.zeros((1, 3), np.float32)], 0)
    with pytest.raises(ValueError, match="shapes differ"):
        union_topn([np.zeros((1, 3), np.float32), np.zeros((2, 3), np.float32)], 2)
