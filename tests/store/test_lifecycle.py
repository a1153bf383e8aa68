"""Model lifecycle: train from the store, artifacts that load back identical, promotion, serving snapshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from cinesync.artifacts import load_model
from cinesync.data.dataset import Interactions
from cinesync.data.ids import IdIndex
from cinesync.data.synthetic import planted
from cinesync.errors import ConfigError, DataError
from cinesync.models.registry import create
from cinesync.serving.lifecycle import engine_snapshot, load_served_model, train_from_store
from cinesync.store import repo
from cinesync.store.importer import import_dataset


@pytest.fixture
def planted_store(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    import_dataset(factory, planted(n_users=80, n_items=60, per_user=8), "planted", progress=False)
    return factory


def test_train_writes_artifact_that_loads_back_identical_and_is_promoted(
        planted_store: sessionmaker[Session], tmp_path: Path) -> None:
    mv = train_from_store(planted_store, tmp_path, "ease", {"l2": 50.0}, progress=False)
    assert (mv.model, mv.version, mv.label) == ("ease", 1, "ease-v1")
    assert Path(mv.path) == (tmp_path / "models" / "ease-v1").resolve()
    assert set(mv.metrics) == {"ndcg@10", "recall@10", "hr@10"} and mv.metrics["ndcg@10"] > 0.1
    assert mv.config["l2"] == 50.0 and mv.info["n_interactions"] == 640 and mv.info["fit_seconds"] >= 0
    with planted_store() as s:
        snap = repo.interactions_snapshot(s)
        assert repo.promoted_version(s).id == mv.id
        assert mv.data_checksum == snap.checksum()
    loaded, doc = load_model(mv.path)
    assert doc["items"] == snap.items and doc["users"] == snap.users and doc["meta"]["version"] == 1
    fresh = create("ease", {"l2": 50.0}).fit(snap)
    hist = snap.histories()
    np.testing.assert_array_equal(loaded.score(hist), fresh.score(hist))

    mv2 = train_from_store(planted_store, tmp_path, "pop", evaluate=False, progress=False)
    mv3 = train_from_store(planted_store, tmp_path, "ease", evaluate=False, progress=False)
    assert (mv2.label, mv2.metrics, mv3.label) == ("pop-v1", {}, "ease-v2")
    assert mv3.config["l2"] == 200.0  # store default for EASE
    with planted_store() as s:
        assert repo.promoted_version(s).id == mv.id  # later versions wait for an explicit promote


def test_load_served_model(planted_store: sessionmaker[Session], tmp_path: Path) -> None:
    with planted_store() as s:
        assert load_served_model(s) is None
    mv = train_from_store(planted_store, tmp_path, "pop", evaluate=False, progress=False)
    with planted_store() as s:
        model, items, served = load_served_model(s)
        assert served.id == mv.id and model.name == "pop" and len(items) == 60 == model.n_items_


def test_engine_snapshot_aligns_to_the_artifact(planted_store: sessionmaker[Session], tmp_path: Path) -> None:
    train_from_store(planted_store, tmp_path, "pop", evaluate=False, progress=False)
    with planted_store.begin() as s:
        _, items, _ = load_served_model(s)
        before = engine_snapshot(s, items)
        extra = Interactions.from_frame(
            pd.DataFrame({"user": ["new"], "item": ["zz"], "rating": [5.0], "timestamp": [2_000_000]}),
            catalog=pd.DataFrame({"item_id": ["zz"], "title": ["Brand new"]}))
        repo.import_interactions(s, extra, "extra", progress=False)  # an item the artifact does not know
        repo.add_event(s, repo.get_user(s, "u0"), "i59", "rating", 5.0, ts=3_000_000)
        after = engine_snapshot(s, items)
    assert after.items == items and before.items == items
    assert after.catalog.column("title").tolist() == before.catalog.column("title").tolist()
    assert after.catalog.column("title")[items.index("i0")] == "Item 0"
    assert "zz" not in after.items and len(after) == len(before) + 1  # new item left out, new rating in
    i59 = items.index("i59")
    assert after.item_counts()[i59] == before.item_counts()[i59] + 1
    assert "new" not in after.users  # its only positive is on an item the artifact does not know


def test_engine_snapshot_fills_items_missing_from_the_store(planted_store: sessionmaker[Session]) -> None:
    items = IdIndex(["i1", "ghost", "i0"], kind="item")
    with planted_store() as s:
        snap = engine_snapshot(s, items)
    assert snap.items == items and snap.catalog.column("title").tolist() == ["Item 1", "ghost", "Item 0"]
    assert snap.item_counts()[1] == 0 and snap.item_counts()[0] > 0


def test_train_errors(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no ratings or watched events"):
        train_from_store(factory, tmp_path, "pop", progress=False)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        train_from_store(factory, tmp_path, "nope", progress=False)
    with pytest.raises(ConfigError, match="invalid config for model 'ease'"):
        train_from_store(factory, tmp_path, "ease", {"l2": -1}, progress=False)


def test_engine_builds_from_served_model(planted_store: sessionmaker[Session], tmp_path: Path) -> None:
    """Contract with cinesync.serving.engine.engine: Engine(model, engine_snapshot) serves a stored user's state."""
    engine_mod = pytest.importorskip("cinesync.serving.engine.engine")
    train_from_store(planted_store, tmp_path, "ease", {"l2": 50.0}, evaluate=False, progress=False)
    with planted_store() as s:
        model, items, _ = load_served_model(s)
        eng = engine_mod.Engine(model, engine_snapshot(s, items), availability=repo.availability_map(s))
        state = repo.user_state(s, repo.get_user(s, "u0"))
    recs = eng.recommend(state)
    assert len(recs) == 10 and not {r.item_id for r in recs} & set(state.history)
    unseen_own = {f"i{i}" for i in range(0, 60, 4)} - set(state.history)  # u0 is in cluster 0: i0, i4, ...
    assert len({r.item_id for r in recs} & unseen_own) >= min(5, len(unseen_own))


def test_ensemble_served_with_a_ranker_fitted_on_held_out_newest_items(
        planted_store: sessionmaker[Session], tmp_path: Path) -> None:
    """A model that needs validation labels (the ensemble's ranker) gets each user's newest item
    held out, so the served artifact holds a fitted LightGBM ranker, not the no-validation fallback."""
    cfg = {"members": [{"name": "ease", "config": {"l2": 50.0}}, {"name": "itemknn"}], "combiner": "ranker",
           "max_rounds": 20}
    mv = train_from_store(planted_store, tmp_path, "ensemble", cfg, evaluate=False, progress=False)
    with planted_store() as s:
        model, items, _ = load_served_model(s)
    assert model.name == "ensemble" and model.combiner_["kind"] == "ranker" and "model_text" in model.combiner_
    assert mv.info["n_items"] == len(items)


def test_newest_item_holdout_keeps_the_item_index() -> None:
    from cinesync.training.validation import newest_item_holdout

    data = planted(n_users=30, n_items=20, per_user=5)
    train, valid = newest_item_holdout(data)
    assert train.n_items == data.n_items and len(train) == len(data) - valid.targets.nnz
    assert valid.targets.shape == (len(valid.history), data.n_items)
    assert valid.targets.multiply(valid.exclude).nnz == 0  # a target is never in its own history
