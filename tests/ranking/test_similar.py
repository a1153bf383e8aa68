"""``ranking.similar``: "more like this" by embedding cosine."""

from __future__ import annotations

import numpy as np
import pytest

from cinesync.errors import DataError
from cinesync.ranking.similar import similar_items


def test_nearest_items_by_cosine_never_the_item_itself() -> None:
    e = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    idx, cos = similar_items(e, 0, k=3)
    assert idx.tolist() == [1, 2, 3] and cos[0] > cos[1] > cos[2]
    idx, _ = similar_items(e, 0, k=5, allowed=np.array([True, False, True, True]))
    assert idx.tolist() == [2, 3, -1, -1, -1]


def test_similar_items_errors() -> None:
    with pytest.raises(DataError, match="outside"):
        similar_items(np.eye(3, dtype=np.float32), 5)
    with pytest.raises(DataError, match="n_items, d"):
        similar_items(np.ones(3), 0)
