import numpy as np
import pytest
import scipy.sparse as sp

from cinesync.ranking import mask_items, recommend, topk


def test_topk_sorted_ties_by_lower_index():
    s = np.array([[0.1, 0.5, 0.5, 0.9], [1.0, 1.0, 1.0, 1.0]], np.float32)
    idx, val = topk(s, 3)
    assert idx.tolist() == [[3, 1, 2], [0, 1, 2]]
    assert val[0].tolist() == pytest.approx([0.9, 0.5, 0.5])


def test_exclusion_candidates_and_padding():
    s = np.array([[4.0, 3.0, 2.0, 1.0]], np.float32)
    ex = sp.csr_matrix(np.array([[1, 0, 0, 0]]))
    idx, _ = recommend(s.copy(), 2, exclude=ex)
    assert idx.tolist() == [[1, 2]]
    idx, _ = recommend(s.copy(), 3, exclude=ex, allowed=np.array([True, False, True, False]))
    assert idx.tolist() == [[2, -1, -1]]
    idx, _ = topk(s.copy(), 6)  # K larger than the catalogue
    assert idx.tolist() == [[0, 1, 2, 3, -1, -1]]


def test_bad_shapes_and_k():
    s = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):
        mask_items(s, exclude=sp.csr_matrix((3, 3)))
    with pytest.raises(ValueError):
        mask_items(s, allowed=np.ones(4, bool))
    with pytest.raises(ValueError):
        topk(s, 0)


def test_matches_full_sort_on_random():
    rng = np.random.default_rng(0)
    s = rng.random((50, 200)).astype(np.float32)
    idx, _ = topk(s, 10)
    assert (idx == np.argsort(-s, axis=1, kind="stable")[:, :10]).all()
