"""Bulk imports: idempotent data-set import (both databases) and availability files (CSV / JSON)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cinesync.data.dataset import Interactions
from cinesync.data.synthetic import planted
from cinesync.errors import DataError
from cinesync.store import repo
from cinesync.store.db import make_engine, migrate, session_factory
from cinesync.store.importer import import_dataset
from cinesync.store.schema import Event, Item
from tests.helpers import SHARED_DATA

DATA = SHARED_DATA / "ml-latest-small.zip"


def test_import_is_idempotent(factory: sessionmaker[Session]) -> None:
    data = planted()
    first = import_dataset(factory, data, "planted", progress=False)
    assert (first["users_new"], first["items_new"], first["events_new"]) == (200, 100, 4000)
    second = import_dataset(factory, data, "planted", progress=False)
    assert (second["users_new"], second["items_new"], second["events_new"]) == (0, 0, 0)
    assert (second["users_existing"], second["items_existing"], second["events_existing"]) == (200, 100, 4000)
    with factory() as s:
        assert repo.counts(s) == {"users": 200, "items": 100, "events": 4000, "availability": 0,
                                  "model_versions": 0}
        snap = repo.interactions_snapshot(s)
        keys = s.scalars(select(Event.import_key).limit(1)).all()
    assert snap.checksum() == data.checksum()  # same users, items, order, ratings and times
    assert keys[0].startswith("planted:u") and keys[0].count(":") == 3


def test_other_source_adds_its_own_events(factory: sessionmaker[Session]) -> None:
    data = planted(n_users=20, n_items=12, per_user=5)
    import_dataset(factory, data, "one", progress=False)
    again = import_dataset(factory, data, "two", progress=False)
    assert again["events_new"] == len(data) and again["users_new"] == 0


def test_implicit_data_imports_as_watched(factory: sessionmaker[Session]) -> None:
    df = pd.DataFrame({"user": ["u1", "u1", "u2"], "item": ["a", "b", "a"]})
    data = Interactions.from_frame(df, name="implicit")
    c = import_dataset(factory, data, "implicit", progress=False)
    assert c["events_new"] == 3
    with factory() as s:
        assert set(s.scalars(select(Event.kind))) == {"watched"}
        snap = repo.interactions_snapshot(s)
        assert snap.rating is None and len(snap) == 3


def test_item_upsert_refreshes_metadata_but_keeps_known_overview(factory: sessionmaker[Session]) -> None:
    df = pd.DataFrame({"user": ["u"], "item": ["m1"], "rating": [4.0], "timestamp": [1]})
    rich = pd.DataFrame({"item_id": ["m1"], "title": ["Old"], "overview": ["A plot."], "runtime": [101.0],
                         "tmdb_id": pd.array([862], dtype="Int64")})
    plain = pd.DataFrame({"item_id": ["m1"], "title": ["New"], "genres": [("Drama",)]})
    import_dataset(factory, Interactions.from_frame(df, catalog=rich), "a", progress=False)
    import_dataset(factory, Interactions.from_frame(df, catalog=plain), "a", progress=False)
    with factory() as s:
        item = s.scalar(select(Item))
    assert (item.title, item.genres, item.overview, item.runtime) == ("New", ["Drama"], "A plot.", 101.0)


def test_bad_source_name(factory: sessionmaker[Session]) -> None:
    with pytest.raises(DataError, match="without ':'"):
        import_dataset(factory, planted(n_users=8, n_items=8, per_user=3), "a:b", progress=False)


# ---- availability ---------------------------------------------------------------------------
@pytest.fixture
def small_store(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    import_dataset(factory, planted(n_users=8, n_items=8, n_clusters=2, per_user=3), "p", progress=False)
    return factory


def _import_av(factory: sessionmaker[Session], path: Path) -> dict[str, int]:
    with factory.begin() as s:
        return repo.import_availability(s, path)


def test_availability_csv(small_store: sessionmaker[Session], tmp_path: Path) -> None:
    f = tmp_path / "av.csv"
    f.write_text("region,item_id,provider,note\nus,i1,netflix,x\nUS,i1,netflix,dup\nGB,i2,Hulu,\n\nUS,i999,netflix,\n")
    assert _import_av(small_store, f) == {"rows": 4, "new": 2, "existing": 1, "unknown_items": 1}
    assert _import_av(small_store, f)["new"] == 0
    with small_store() as s:
        assert repo.availability_map(s) == {"i1": {("netflix", "US")}, "i2": {("Hulu", "GB")}}


def test_availability_json(small_store: sessionmaker[Session], tmp_path: Path) -> None:
    f = tmp_path / "av.json"
    f.write_text(json.dumps([{"item_id": "i3", "provider": "mubi", "region": "fr"},
                             {"item_id": "i4", "provider": "mubi", "region": "FR", "price": 3},
                             {"item_id": 7, "provider": "mubi", "region": "FR"}]))  # numeric id -> "7": unknown
    assert _import_av(small_store, f) == {"rows": 3, "new": 2, "existing": 0, "unknown_items": 1}
    with small_store() as s:
        assert repo.availability_map(s) == {"i3": {("mubi", "FR")}, "i4": {("mubi", "FR")}}


@pytest.mark.parametrize(("name", "content", "match"), [
    ("a.csv", "item,provider,region\ni1,netflix,US\n", r"a\.csv: line 1: missing column\(s\) item_id"),
    ("b.csv", "item_id,provider,region\ni1,netflix,US\ni2,,US\n", r"b\.csv: line 3: 'provider' must be a non-empty"),
    ("c.csv", "item_id,provider,region\ni1,netflix\n", r"c\.csv: line 2: 2 fields, expected 3"),
    ("d.csv", "item_id,provider,region\ni1,netflix,WAYTOOLONGREGION\n", r"d\.csv: line 2: 'region' longer than 8"),
    ("e.csv", "", r"e\.csv: line 1: missing column"),
    ("f.json", '[{"item_id": "i1", "provider": "x", "region": "US"},\n  {"item_id": }]',
     r"f\.json: line 2, column 15: invalid JSON"),
    ("g.json", '{"item_id": "i1"}', r"g\.json: expected a JSON list of objects"),
    ("h.json", '[{"item_id": "i1", "provider": "x", "region": "US"}, {"item_id": "i1", "provider": "x"}]',
     r"h\.json: entry 2: missing key\(s\) region"),
    ("i.json", '[["i1", "x", "US"]]', r"i\.json: entry 1: expected an object, got list"),
    ("j.json", '[{"item_id": "i1", "provider": 5, "region": "US"}]', r"j\.json: entry 1: 'provider' must be"),
])
def test_malformed_availability_files(small_store: sessionmaker[Session], tmp_path: Path, name: str, content: str,
                                      match: str) -> None:
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(DataError, match=match):
        _import_av(small_store, f)
    with small_store() as s:
        assert repo.counts(s)["availability"] == 0


def test_missing_availability_file(small_store: sessionmaker[Session], tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        _import_av(small_store, tmp_path / "nope.csv")


# ---- real data ------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.realdata
def test_ml_latest_small_twice_on_sqlite(tmp_path: Path) -> None:
    if not DATA.is_file():
        pytest.skip(f"{DATA} not present")
    from cinesync.data.loaders import load_dataset

    data = load_dataset("ml-latest-small", DATA)
    eng = make_engine(f"sqlite:///{tmp_path / 'ml.db'}")
    migrate(eng)
    factory = session_factory(eng)
    t0 = time.perf_counter()
    first = import_dataset(factory, data, "ml-latest-small", progress=False)
    seconds = time.perf_counter() - t0
    second = import_dataset(factory, data, "ml-latest-small", progress=False)
    with factory() as s:
        counts = repo.counts(s)
        snap = repo.interactions_snapshot(s)
    eng.dispose()
    assert (first["users_new"], first["items_new"], first["events_new"]) == (610, 9742, 100_836)
    assert second["events_new"] == 0 and second["users_new"] == 0 and second["items_new"] == 0
    assert (counts["users"], counts["items"], counts["events"]) == (610, 9742, 100_836)
    assert seconds < 60, f"import took {seconds:.1f}s"
    assert (snap.n_users, snap.n_items, len(snap)) == (610, 9742, 100_836)
    assert (snap.csr("rating") != data.csr("rating")).nnz == 0
    assert np.isclose(snap.rating.sum(), data.rating.sum())


# ---- an import never damages what is there -------------------------------------------------
def ml_tiny(tmp_path: Path) -> Path:
    """A MovieLens-layout folder: two rated films with genres and tags."""
    ml = tmp_path / "ml-tiny"
    ml.mkdir()
    (ml / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,100\n2,1,3.5,101\n2,2,5.0,102\n")
    (ml / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
                                   "2,Heat (1995),Action|Crime\n")
    (ml / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,1,pixar,100\n")
    return ml


def test_a_ratings_only_file_leaves_the_catalogue_as_it_was(factory: sessionmaker[Session], tmp_path: Path) -> None:
    from cinesync.data.loaders import load_dataset

    import_dataset(factory, load_dataset(str(ml_tiny(tmp_path))), "ml", progress=False)
    onerow = tmp_path / "onerow.csv"
    onerow.write_text("user,item,rating,timestamp\n1,1,4,1500000000\n")
    counts = import_dataset(factory, load_dataset(str(onerow)), "mine", progress=False)
    assert counts["items_new"] == 0 and counts["items_updated"] == 0 and counts["events_new"] == 1
    with factory() as s:
        item = s.scalar(select(Item).where(Item.item_id == "1"))
    assert (item.title, item.year, item.genres, item.tags) == ("Toy Story", 1995, ["Adventure", "Animation"],
                                                               ["pixar"])


def test_an_items_file_updates_only_what_it_provides(factory: sessionmaker[Session], tmp_path: Path) -> None:
    from cinesync.data.loaders import ColumnMap, load_dataset

    import_dataset(factory, load_dataset(str(ml_tiny(tmp_path))), "ml", progress=False)
    (tmp_path / "r.csv").write_text("user,item,rating\n9,1,5\n9,3,4\n")
    (tmp_path / "items.csv").write_text("item,name\n1,Toy Story (director's cut)\n3,A New Film\n")
    cm = ColumnMap(rating="rating", items_path=str(tmp_path / "items.csv"), title="name")
    counts = import_dataset(factory, load_dataset("csv", tmp_path / "r.csv", columns=cm), "mine", progress=False)
    assert (counts["items_new"], counts["items_updated"]) == (1, 1)
    with factory() as s:
        one = s.scalar(select(Item).where(Item.item_id == "1"))
        new = s.scalar(select(Item).where(Item.item_id == "3"))
    assert one.title == "Toy Story (director's cut)" and one.genres == ["Adventure", "Animation"] and one.year == 1995
    assert new.title == "A New Film" and new.genres == []


@pytest.mark.parametrize("bad", ["nul\x00id", "bell\x07"])
def test_control_characters_never_reach_either_database(factory: sessionmaker[Session], bad: str) -> None:
    """The same precise refusal on SQLite and PostgreSQL, and nothing written."""
    df = pd.DataFrame({"user": ["ok", bad], "item": ["a", "b"], "rating": [4.0, 3.0]})
    with pytest.raises(DataError, match="holds a control character"):
        import_dataset(factory, Interactions.from_frame(df, name="odd"), "odd", progress=False)
    with factory() as s:
        assert repo.counts(s)["events"] == 0 and repo.counts(s)["users"] == 0


def test_a_non_finite_rating_is_refused_and_nothing_is_written(factory: sessionmaker[Session]) -> None:
    df = pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"], "rating": [4.0, np.inf]})
    with pytest.raises(DataError, match="not a finite number"):
        import_dataset(factory, Interactions.from_frame(df, name="inf"), "inf", progress=False)
    with factory() as s:
        assert repo.counts(s)["events"] == 0
