"""``ranking.chunked``: the one chunked score -> top-k loop."""

import numpy as np
import pytest

from cinesync.data.protocols import make_split
from cinesync.models.registry import create
from cinesync.ranking.chunked import rank_chunks


@pytest.fixture(scope="module")
def split(planted_data):
    return make_split("loo", planted_data, seed=0)


def test_chunked_ranking_equals_one_batch(split):
    model = create("pop").fit(split.train)
    hist, _, exclude, _ = split.test_queries()
    a = rank_chunks(model.score, hist, 10, exclude=exclude, batch_size=7)
    b = rank_chunks(model.score, hist, 10, exclude=exclude, batch_size=10_000)
    assert (a == b).all()
    # excluded (already seen) items never appear
    for r in range(len(hist)):
        assert not set(a[r]) & set(exclude[r].indices)


def test_candidates_and_seeded_ties(split):
    """Only allowed items are ranked; with a tie order, equal scores follow it instead of the item index."""
    model = create("pop").fit(split.train)
    hist, _, _, _ = split.test_queries()
    allowed = np.zeros(split.n_items, bool)
    allowed[[3, 5, 7]] = True
    top = rank_chunks(model.score, hist, 4, allowed=allowed, batch_size=5)
    assert set(top[:, :3].ravel()) <= {3, 5, 7} and (top[:, 3] == -1).all()
    const = lambda b: np.zeros((len(b), split.n_items), np.float32)  # noqa: E731
    order = np.random.default_rng(3).permutation(split.n_items)
    by_index = rank_chunks(const, hist, 3)
    by_order = rank_chunks(const, hist, 3, tie_order=order)
    assert (by_index == np.arange(3)).all()
    assert (by_order == order[:3]).all()
