"""Hybrid (collaborative + content by history length): contract on the text-planted data, weight curve, blend."""

from __future__ import annotations

import numpy as np
import pytest

from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError
from cinesync.models import create
from cinesync.models.content import ContentRecommender
from cinesync.models.hybrid import Hybrid, blend_weight, zscore_rows
from cinesync.ranking import recommend

from .test_content import CACHE, ContentContract, text_planted_split


class TestHybrid(ContentContract):
    name = "hybrid"
    config = {"content_config": {"cache_dir": CACHE}, "collaborative_config": {"l2": 50.0}}


@pytest.fixture(scope="module")
def parents() -> tuple:
    train, _ = text_planted_split()
    return create("ease", {"l2": 50.0}).fit(train), ContentRecommender(cache_dir=CACHE).fit(train)


@pytest.mark.parametrize("curve", [{"curve": "saturating", "k": 3.0},
                                   {"curve": "logistic", "midpoint": 4.0, "slope": 0.7}])
def test_weight_curve_is_monotone_from_zero_to_one(curve: dict) -> None:
    n = np.arange(0, 500)
    w = blend_weight(n, **curve)
    assert w[0] == 0.0
    assert np.all(np.diff(w) >= 0) and np.all((w >= 0) & (w <= 1))
    assert w[-1] > 0.99


def test_saturating_curve_values() -> None:
    np.testing.assert_allclose(blend_weight(np.array([0, 1, 5, 15]), "saturating", k=5.0), [0, 1 / 6, 0.5, 0.75])
    with pytest.raises(ConfigError, match="curve"):
        blend_weight(np.array([1]), "cubic")


def test_blend_formula(parents: tuple) -> None:
    ease, content = parents
    model = Hybrid.from_parents(ease, content, k=2.0)
    b = HistoryBatch.from_lists([[1, 2], [3, 4, 5, 6, 7, 8]])
    w = np.array([2 / 4, 6 / 8])[:, None]
    want = w * zscore_rows(ease.score(b)) + (1 - w) * zscore_rows(content.score(b))
    np.testing.assert_allclose(model.score(b), want, atol=1e-5)


def test_empty_history_is_pure_content(parents: tuple) -> None:
    ease, content = parents
    model = Hybrid.from_parents(ease, content, k=0.001)
    b = HistoryBatch.empty(2)
    np.testing.assert_allclose(model.score(b), zscore_rows(content.score(b)), atol=1e-5)


def test_long_history_is_mostly_collaborative(parents: tuple) -> None:
    ease, content = parents
    train, _ = text_planted_split()
    hist = train.histories(np.arange(0, 40))
    ex = hist.to_csr(train.n_items)
    model = Hybrid.from_parents(ease, content, k=0.05)  # w(19) > 0.997
    top_h, _ = recommend(model.score(hist), 10, exclude=ex)
    top_c, _ = recommend(ease.score(hist), 10, exclude=ex)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_h, top_c, strict=True)])
    assert overlap > 0.9
    top_t, _ = recommend(Hybrid.from_parents(ease, content, k=1e6).score(hist), 10, exclude=ex)
    top_cb, _ = recommend(content.score(hist), 10, exclude=ex)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_t, top_cb, strict=True)]) > 0.9


def test_from_parents_matches_fit(parents: tuple) -> None:
    train, _ = text_planted_split()
    fitted = create("hybrid", {"content_config": {"cache_dir": CACHE}, "collaborative_config": {"l2": 50.0}})
    fitted.fit(train)
    b = train.histories(np.arange(5))
    np.testing.assert_allclose(Hybrid.from_parents(*parents).score(b), fitted.score(b), atol=1e-5)


def test_bad_parents() -> None:
    with pytest.raises(ConfigError, match="collaborative"):
        create("hybrid", {"collaborative": "content"})
    with pytest.raises(ConfigError, match="unknown model"):
        train, _ = text_planted_split()
        create("hybrid", {"collaborative": "nope", "content_config": {"cache_dir": CACHE}}).fit(train)
    with pytest.raises(ConfigError, match="fitted"):
        Hybrid.from_parents(create("ease"), ContentRecommender())
