"""Explanations: contribution sources (exact weights, vectors, leave-one-out) and the sentences."""

from __future__ import annotations

import numpy as np
import pytest

from cinesync.data.history import HistoryBatch, UserState
from cinesync.models.ease import EASE
from cinesync.models.itemknn import ItemKNN
from cinesync.serving.engine.contrib import (
    EASEDualSource,
    ItemItemSource,
    LeaveOneOutSource,
    VectorSource,
    contribution_source,
)
from cinesync.serving.engine.engine import Context, Engine, RecRequest
from cinesync.serving.engine.explain import format_rating, sentence
from cinesync.serving.engine.schemas import BecauseItem

from .helpers import NOON, FactorModel, LinearModel, block, cluster_items

REQ = RecRequest(k=5, diversity=0.0, context=Context(hour=12, weekday=2))


def test_top_contributor_is_a_same_cluster_item_and_is_named(engine: Engine) -> None:
    # mostly block 0, plus two block-2 items that should not explain block-0 picks
    hist = cluster_items(0, 5) + ["i2", "i6"]
    user = UserState.from_items(hist, [5.0, 4.5, 4.0, 5.0, 4.5, 3.0, 3.5])
    recs = engine.recommend(user, REQ)
    own = [r for r in recs if block(r.item_id) == 0]
    assert len(own) >= 4
    for r in own:
        top = r.explanation.because[0]
        assert block(top.item_id) == block(r.item_id)
        assert top.item_id in hist and top.title in r.explanation.text
        assert format_rating(top.rating) in r.explanation.text
        assert 0 < top.weight <= 1
        assert r.explanation.text.startswith("Because you rated")


def test_unrated_history_reads_watched_and_genres_are_shared(engine: Engine) -> None:
    user = UserState.from_items(cluster_items(1, 5), [None] * 5)
    r = engine.recommend(user, REQ)[0]
    assert r.explanation.text.startswith("Because you watched Item ")
    assert "★" not in r.explanation.text
    assert "g1" in r.explanation.genres and "like g1" in r.explanation.text


def test_explain_any_item(engine: Engine) -> None:
    user = UserState.from_items(["i0", "i4"], [5.0, 4.0])
    e = engine.explain(user, "i8")
    assert {b.item_id for b in e.because} <= {"i0", "i4"} and e.because
    cold = engine.explain(UserState(), "i8")
    assert cold.because == [] and cold.text


def test_format_and_sentence() -> None:
    assert format_rating(4.5) == "4.5★" and format_rating(5.0) == "5★"
    a = BecauseItem(item_id="1", title="Heat", rating=5.0, weight=0.6)
    b = BecauseItem(item_id="2", title="Casino", rating=4.5, weight=0.3)
    c = BecauseItem(item_id="3", title="Up", rating=None, weight=0.1)
    assert sentence([a], ["Crime"], "x") == "Because you rated Heat 5★, and like Crime"
    assert sentence([a, b], [], "x") == "Because you rated Heat 5★ and Casino 4.5★"
    assert sentence([a, c], [], "x") == "Because you rated Heat 5★ and watched Up"
    assert sentence([], ["Crime", "Drama"], "x") == "Because you like Crime and Drama"
    assert sentence([], [], "fallback") == "fallback"


def test_ease_sources_are_exact_and_dual_equals_primal(rich_data) -> None:
    primal = EASE({"l2": 10.0, "solver": "primal"}).fit(rich_data)
    dual = EASE({"l2": 10.0, "solver": "dual"}).fit(rich_data)
    sp_, sd = contribution_source(primal, rich_data.n_items), contribution_source(dual, rich_data.n_items)
    assert type(sp_) is ItemItemSource and type(sd) is EASEDualSource
    hist, targets = np.array([3, 10, 42, 7]), np.array([0, 5, 10, 99])
    cp, cd = sp_.contributions(hist, targets), sd.contributions(hist, targets)
    assert cp.shape == (4, 4)
    np.testing.assert_allclose(cp, cd, atol=1e-5)
    scores = primal.score(HistoryBatch.from_lists([sorted(hist.tolist())]))[0]
    np.testing.assert_allclose(cp.sum(axis=1), scores[targets], atol=1e-5)  # contributions add up
    assert cp[2, 1] == 0.0  # an item does not explain itself (zero diagonal)


def test_itemknn_and_max_items_sources(rich_data) -> None:
    knn = ItemKNN({"k": 20}).fit(rich_data)
    src = contribution_source(knn, rich_data.n_items)
    assert isinstance(src, ItemItemSource)
    hist = np.array([1, 2, 3])
    scores = knn.score(HistoryBatch.from_lists([hist.tolist()]))[0]
    np.testing.assert_allclose(src.contributions(hist, np.arange(10)).sum(axis=1), scores[:10], atol=1e-5)
    part = EASE({"l2": 10.0, "max_items": 50, "solver": "primal"}).fit(rich_data)
    psrc = contribution_source(part, rich_data.n_items)
    outside = np.setdiff1d(np.arange(rich_data.n_items), part.keep_)[:3]
    assert np.all(psrc.contributions(hist, outside) == 0.0)


def test_vector_and_leave_one_out_sources() -> None:
    f = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    vsrc = contribution_source(FactorModel(f), 4)
    assert isinstance(vsrc, VectorSource)
    c = vsrc.contributions(np.array([0, 2]), np.array([1, 3]))
    assert c[0].argmax() == 0 and c[1].argmax() == 1
    w = np.arange(16, dtype=np.float32).reshape(4, 4)
    model = LinearModel(w)
    lsrc = contribution_source(model, 4)
    assert isinstance(lsrc, LeaveOneOutSource)
    batch = HistoryBatch.from_lists([[0, 2]])
    full = model.score(batch)[0]
    np.testing.assert_allclose(lsrc.contributions(np.array([0, 2]), np.array([1, 3]), batch, full),
                               w[[0, 2]][:, [1, 3]].T)  # linear model: leave-one-out is exact


def test_engine_with_leave_one_out_model_explains(rich_data) -> None:
    n = rich_data.n_items
    blocks = np.array([block(i) for i in rich_data.items.ids])
    w = (blocks[:, None] == blocks[None, :]).astype(np.float32) * (1 + np.arange(n) % 3)
    eng = Engine(LinearModel(w), rich_data, clock=lambda: NOON)
    recs = eng.recommend(UserState.from_items(cluster_items(3, 4), [4.0] * 4), REQ)
    assert all(block(r.explanation.because[0].item_id) == 3 for r in recs)


@pytest.mark.parametrize("model_name", ["rp3beta"])
def test_registry_models_get_exact_sources(rich_data, model_name: str) -> None:
    import cinesync.models.rp3beta  # noqa: F401  (registers the model)
    from cinesync.models.registry import create

    m = create(model_name).fit(rich_data)
    assert isinstance(contribution_source(m, rich_data.n_items), ItemItemSource)
