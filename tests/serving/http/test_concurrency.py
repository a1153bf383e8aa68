"""Many clients rating and reading at once through a real uvicorn server, on SQLite and PostgreSQL:
no rating is lost or duplicated, and no client ever gets a stale list right after its own write."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from cinesync.serving.settings import Settings
from cinesync.store.db import make_engine, session_factory
from cinesync.store.schema import Event, Item, User

from .conftest import ADMIN_TOKEN, build_app, running, seed_store

THREADS = 8
OPS = 20


def client_session(base: str, n: int) -> tuple[str, list[str], list[str]]:
    """One client: sign up, then OPS times rate the top recommendation and read the list again.

    Returns (user id, items rated, problems seen)."""
    problems: list[str] = []
    rated: list[str] = []
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.post("/v1/users", json={"display_name": f"client {n}"})
        uid, h = r.json()["user_id"], {"Authorization": f"Bearer {r.json()['token']}"}
        items = [x["item_id"] for x in c.get(f"/v1/users/{uid}/recommendations?k=10", headers=h).json()["items"]]
        for op in range(OPS):
            target = items[0]
            r = c.post(f"/v1/users/{uid}/ratings", json={"item_id": target, "rating": 0.5 + (op % 10) / 2}, headers=h)
            if r.status_code != 201:
                problems.append(f"rating {target}: {r.status_code} {r.text}")
                continue
            rated.append(target)
            r = c.get(f"/v1/users/{uid}/recommendations?k=10", headers=h)
            if r.status_code != 200:
                problems.append(f"read: {r.status_code} {r.text}")
                continue
            items = [x["item_id"] for x in r.json()["items"]]
            if set(rated) & set(items):
                problems.append(f"op {op}: stale list after rating {target}: {items} ({r.headers.get('x-cache')})")
    return uid, rated, problems


def hammer(settings: Settings) -> None:
    with running(build_app(settings)) as base, ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda n: client_session(base, n), range(THREADS)))
    problems = [p for _, _, ps in results for p in ps]
    assert not problems, problems[:5]
    eng = make_engine(settings.database_url)
    with session_factory(eng)() as s:
        for uid, rated, _ in results:
            assert len(rated) == OPS and len(set(rated)) == OPS  # each op rated a new item
            rows = s.execute(select(Item.item_id, func.count()).join(Event, Event.item_pk == Item.id)
                             .join(User, Event.user_pk == User.id)
                             .where(User.external_id == uid, Event.kind == "rating")
                             .group_by(Item.item_id)).all()
            assert dict(rows) == dict.fromkeys(rated, 1), uid  # every rating stored exactly once
    eng.dispose()


@pytest.mark.slow
def test_concurrent_clients_sqlite(settings: Settings) -> None:
    hammer(settings)


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_clients_postgres(pg_url: str, tmp_path: Path) -> None:
    seed_store(pg_url, tmp_path)
    hammer(Settings(home=tmp_path, database_url=pg_url, admin_token=ADMIN_TOKEN))
