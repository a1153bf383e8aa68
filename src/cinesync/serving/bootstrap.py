"""First start of a service: import the bundled data into an empty store, train when nothing is
served, and make sure the demo user exists (with a fresh token each start)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

DEMO_ID = "demo"
#: MovieLens movieId -> rating: well-known films, so the demo user's list is personal from the start
DEMO_RATINGS = {"318": 5.0, "858": 5.0, "2571": 4.5, "260": 4.5, "1196": 4.5, "4993": 4.0, "296": 4.0,
                "356": 4.0, "1": 4.0, "2959": 4.5, "79132": 4.5}


def prepare_store(factory: sessionmaker[Session], home: Path, train_model: str = "ease",
                  progress: bool = True) -> dict[str, Any]:
    """First-start work: import the bundled data into an empty store, train when nothing is served."""
    from cinesync.serving.lifecycle import train_from_store
    from cinesync.store import repo

    done: dict[str, Any] = {}
    with factory() as s:
        n_items = repo.counts(s)["items"]
        served = repo.promoted_version(s)
    if n_items == 0:
        from cinesync.data.loaders import load_dataset
        from cinesync.store.importer import import_dataset

        log.info("empty database: importing the bundled ml-latest-small")
        data = load_dataset("ml-latest-small")
        done["import"] = import_dataset(factory, data, data.name, progress=progress)
    if served is None:
        log.info("no model served yet: training %s (first start takes about a minute)", train_model)
        mv = train_from_store(factory, home, train_model, evaluate=True, progress=progress)
        done["trained"] = mv.label
    return done


def _popular_items(s: Session, n: int) -> list[str]:
    from sqlalchemy import func, select

    from cinesync.store.schema import Event, Item

    rows = s.execute(select(Item.item_id).join(Event, Event.item_pk == Item.id)
                     .where(Event.kind == "rating").group_by(Item.item_id)
                     .order_by(func.count().desc(), Item.item_id).limit(n)).all()
    return [r[0] for r in rows]


def ensure_demo_user(factory: sessionmaker[Session]) -> tuple[str, str]:
    """The demo user (created with ~10 ratings if missing) and a fresh token for it: (user id, token)."""
    import secrets

    from sqlalchemy import select

    from cinesync.errors import UnknownIdError
    from cinesync.store import repo
    from cinesync.store.schema import Item

    with factory.begin() as s:
        try:
            user = repo.get_user(s, DEMO_ID)
            token = secrets.token_urlsafe(32)
            user.token_hash = repo.hash_token(token)  # a new token each start; only its hash is stored
        except UnknownIdError:
            user, token = repo.create_user(s, display_name="Demo", external_id=DEMO_ID)
            known = {i for (i,) in s.execute(select(Item.item_id).where(Item.item_id.in_(DEMO_RATINGS)))}
            ratings = {i: r for i, r in DEMO_RATINGS.items() if i in known}
            if len(ratings) < 5:  # not MovieLens: rate the most popular titles instead
                ratings = {i: 4.5 for i in _popular_items(s, 10)}
            for ts, (item, rating) in enumerate(ratings.items()):
                repo.add_event(s, user, item, "rating", rating, ts=1_700_000_000.0 + ts)
    return DEMO_ID, token
