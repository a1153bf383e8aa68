"""Repository functions: users and tokens, event validation, user state, catalogue and snapshot."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from cinesync.data.dataset import Interactions
from cinesync.errors import DataError, UnknownIdError
from cinesync.store import repo
from cinesync.store.schema import Event, User


def tiny() -> Interactions:
    """3 users x 4 items with a catalogue (item 'd' has no interactions)."""
    df = pd.DataFrame({"user": ["x", "x", "y", "z"], "item": ["a", "b", "a", "c"],
                       "rating": [4.0, 3.5, 5.0, 2.0], "timestamp": [10, 20, 30, 40]})
    cat = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "title": ["A", "B", "C", "D"],
                        "year": [2001, 2002, None, 2004], "genres": [("Drama",), ("Comedy", "Drama"), (), ("Horror",)],
                        "domain": ["movie", "tv", "movie", "other"], "overview": ["about a", "", "", ""],
                        "runtime": [90.0, None, 45.0, None]})
    return Interactions.from_frame(df, catalog=cat, name="tiny")


@pytest.fixture
def loaded(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with factory.begin() as s:
        repo.import_interactions(s, tiny(), "tiny", progress=False)
    return factory


def test_create_user_stores_only_the_token_hash(factory: sessionmaker[Session], engine: Engine) -> None:
    with factory.begin() as s:
        user, token = repo.create_user(s, display_name="Ann", is_admin=True, region="us", providers=["netflix"])
        uid = user.external_id
    assert len(token) >= 40
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM users")).all()
    assert len(rows) == 1 and token not in repr(rows)
    with factory() as s:
        found = repo.user_by_token(s, token)
        assert found is not None and found.external_id == uid and found.is_admin and found.region == "US"
        assert found.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert found.providers == ["netflix"]
        assert repo.user_by_token(s, token + "x") is None
        assert repo.user_by_token(s, "") is None
        assert repo.get_user(s, uid).id == found.id
        with pytest.raises(UnknownIdError, match="unknown user id 'nobody'"):
            repo.get_user(s, "nobody")


def test_user_ids_unique_and_tokens_distinct(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        _, t1 = repo.create_user(s, external_id="ann")
        _, t2 = repo.create_user(s)
        assert t1 != t2
        with pytest.raises(DataError, match="'ann' already exists"):
            repo.create_user(s, external_id="ann")
        with pytest.raises(DataError, match="region"):
            repo.create_user(s, region="not a region")


@pytest.mark.parametrize(("item", "kind", "value", "error", "match"), [
    ("nope", "rating", 4.0, UnknownIdError, "unknown item id 'nope'"),
    ("a", "rating", 0.0, ValueError, r"0\.5\.\.5 in steps of 0\.5"),
    ("a", "rating", 5.5, ValueError, r"0\.5\.\.5 in steps of 0\.5"),
    ("a", "rating", 3.3, ValueError, "steps of 0.5"),
    ("a", "rating", math.nan, ValueError, "rating"),
    ("a", "rating", None, ValueError, "needs a value"),
    ("a", "watched", 7.0, ValueError, "rating"),
    ("a", "love", None, ValueError, "unknown event kind 'love'"),
])
def test_add_event_validation_leaves_db_unchanged(loaded: sessionmaker[Session], item: str, kind: str,
                                                  value: float | None, error: type, match: str) -> None:
    with loaded() as s:
        before = repo.counts(s)["events"]
        user = repo.get_user(s, "x")
        with pytest.raises(error, match=match):
            repo.add_event(s, user, item, kind, value)
        s.commit()
        assert repo.counts(s)["events"] == before


def test_add_event_records_api_events(loaded: sessionmaker[Session]) -> None:
    with loaded.begin() as s:
        ev = repo.add_event(s, repo.get_user(s, "y"), "c", "rating", 4.5, ts=100.0)
        assert (ev.kind, ev.value, ev.ts, ev.source, ev.import_key) == ("rating", 4.5, 100.0, "api", None)
        now = repo.add_event(s, repo.get_user(s, "y"), "d", "impression")
        assert now.ts > 1e9 and now.value is None


def test_user_state_semantics(loaded: sessionmaker[Session]) -> None:
    with loaded.begin() as s:
        u, _ = repo.create_user(s, external_id="me", region="de", providers=["netflix", "mubi"])
        add = lambda item, kind, value=None, ts=0.0: repo.add_event(s, u, item, kind, value, ts)
        add("a", "rating", 2.0, ts=1)
        add("b", "watched", ts=2)               # positive without a rating
        add("a", "rating", 4.5, ts=3)           # latest rating wins, moves a after b
        add("c", "rating", 5.0, ts=4)
        add("c", "not_interested", ts=5)        # blocked and out of the history
        add("d", "dislike", ts=6)
        add("b", "watched", ts=7)               # watched again: still no rating, moves to the end
        add("d", "rating", 3.0, ts=8)           # rating a disliked item unblocks it
        add("a", "watchlist_add", ts=9)
        add("c", "watchlist_add", ts=10)
        add("a", "watchlist_remove", ts=11)
        add("b", "watchlist_add", ts=12)
        add("a", "impression", ts=13)
        add("a", "click", ts=14)
        st = repo.user_state(s, u)
    assert st.history == ("a", "b", "d")
    assert st.ratings == (4.5, None, 3.0)
    assert st.timestamps == (3.0, 7.0, 8.0)
    assert st.blocked == frozenset({"c"})
    assert st.watchlist == ("c", "b")
    assert st.providers == frozenset({"netflix", "mubi"}) and st.region == "DE"


def test_update_user(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        u, _ = repo.create_user(s, display_name="A")
        repo.update_user(s, u, region="gb", providers=[" netflix", "netflix", "bbc"])
        assert (u.display_name, u.region, u.providers) == ("A", "GB", ["netflix", "bbc"])
        st = repo.user_state(s, u)
        assert st.region == "GB" and st.providers == frozenset({"netflix", "bbc"}) and st.history == ()
        with pytest.raises(DataError, match="providers"):
            repo.update_user(s, u, providers=[""])


def test_watched_keeps_earlier_rating(loaded: sessionmaker[Session]) -> None:
    with loaded.begin() as s:
        u, _ = repo.create_user(s)
        repo.add_event(s, u, "a", "rating", 4.0, ts=1)
        repo.add_event(s, u, "a", "watched", ts=2)
        st = repo.user_state(s, u)
    assert st.history == ("a",) and st.ratings == (4.0,) and st.timestamps == (2.0,)


def test_imported_user_state(loaded: sessionmaker[Session]) -> None:
    with loaded() as s:
        st = repo.user_state(s, repo.get_user(s, "x"))
    assert st.history == ("a", "b") and st.ratings == (4.0, 3.5) and st.timestamps == (10.0, 20.0)


def test_snapshot_matches_user_states(loaded: sessionmaker[Session]) -> None:
    with loaded.begin() as s:
        u, _ = repo.create_user(s, external_id="me")
        repo.add_event(s, u, "d", "rating", 4.0, ts=50)
        repo.add_event(s, u, "b", "watched", ts=60)
        repo.add_event(s, repo.get_user(s, "x"), "a", "dislike", ts=70)      # x's 'a' leaves the snapshot
        repo.add_event(s, repo.get_user(s, "z"), "c", "rating", 4.0, ts=80)  # z's rating replaced
    with loaded() as s:
        snap = repo.interactions_snapshot(s)
        states = {u.external_id: repo.user_state(s, u) for u in s.scalars(select(User))}
    assert list(snap.items.ids) == ["a", "b", "c", "d"]  # whole catalogue, insertion order
    assert list(snap.users.ids) == ["x", "y", "z", "me"]
    hb = snap.histories()
    for row, uid in enumerate(snap.users.ids):
        items = snap.items.ids_of(hb.items[hb.indptr[row]:hb.indptr[row + 1]])
        assert tuple(items) == states[uid].history
    frame = snap.to_frame()
    assert frame.loc[frame["user"] == "z", "rating"].tolist() == [4.0]
    watched = frame.loc[(frame["user"] == "me") & (frame["item"] == "b"), "rating"].iloc[0]
    assert watched == pytest.approx(np.mean([3.5, 5.0, 4.0, 4.0]))  # missing rating -> mean of known ones
    assert snap.catalog.column("title").tolist() == ["A", "B", "C", "D"]


def test_catalog_frame_and_availability_map(loaded: sessionmaker[Session], tmp_path: Path) -> None:
    csv = tmp_path / "av.csv"
    csv.write_text("item_id,provider,region\na,netflix,us\na,mubi,DE\nc,netflix,US\n")
    with loaded.begin() as s:
        repo.import_availability(s, csv)
    with loaded() as s:
        cat = repo.catalog_frame(s)
        avail = repo.availability_map(s)
    assert list(cat.columns) == ["item_id", "title", "year", "genres", "domain", "overview", "runtime", "tags"]
    assert cat["item_id"].tolist() == ["a", "b", "c", "d"]
    assert cat["genres"].tolist() == [("Drama",), ("Comedy", "Drama"), (), ("Horror",)]
    assert cat["year"].isna().tolist() == [False, False, True, False]
    assert cat["domain"].tolist() == ["movie", "tv", "movie", "other"]
    assert cat["runtime"].iloc[0] == 90.0 and math.isnan(cat["runtime"].iloc[1])
    assert avail == {"a": {("netflix", "US"), ("mubi", "DE")}, "c": {("netflix", "US")}}


def test_empty_store_snapshot(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        snap = repo.interactions_snapshot(s)
        assert len(snap) == 0 and snap.n_items == 0 and snap.n_users == 0
        assert s.scalar(select(Event.id)) is None
