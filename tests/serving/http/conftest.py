"""API test fixtures: a small planted store with a trained EASE, the app, clients and users.

Each test gets its own copy of a seeded SQLite store (planted data: 80 users in 4 clusters over
60 items, EASE trained and promoted), so tests are independent and fast. PostgreSQL (marker
``postgres``) and Redis (marker ``redis``) fixtures skip with the reason when the servers are
unreachable; override them with CINESYNC_TEST_PG_URL / CINESYNC_TEST_REDIS_URL.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from cinesync.data.synthetic import planted
from cinesync.serving.http.app import create_app
from cinesync.serving.lifecycle import train_from_store
from cinesync.serving.settings import Settings
from cinesync.store.db import make_engine, migrate, session_factory
from cinesync.store.importer import import_dataset
from tests.helpers import PG_URL, free_port, pg_error

with warnings.catch_warnings():  # starlette's note about httpx2 is not ours to fix
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

REDIS_URL = os.environ.get("CINESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_TOKEN = "test-admin-token"
NOON = datetime(2024, 1, 3, 12, 0)  # a Wednesday: no "late" context rule fires


def seed_store(url: str, home: Path, model: str = "ease") -> None:
    """Migrate ``url``, import small planted data and train + promote ``model`` (artifact under ``home``)."""
    eng = make_engine(url)
    try:
        migrate(eng)
        factory = session_factory(eng)
        import_dataset(factory, planted(n_users=80, n_items=60, per_user=8), "planted", progress=False)
        train_from_store(factory, home, model, {"l2": 10.0} if model == "ease" else {}, evaluate=False,
                         progress=False)
    finally:
        eng.dispose()


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded SQLite file (copied for each test; its artifact lives next to it)."""
    home = tmp_path_factory.mktemp("api-seed")
    seed_store(f"sqlite:///{home / 'cinesync.db'}", home)
    return home / "cinesync.db"


@pytest.fixture
def settings(tmp_path: Path, seeded_sqlite: Path) -> Settings:
    """Settings of a fresh copy of the seeded store, with an environment admin token."""
    shutil.copyfile(seeded_sqlite, tmp_path / "cinesync.db")
    return Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'cinesync.db'}", admin_token=ADMIN_TOKEN)


def build_app(settings: Settings, **kwargs: object) -> FastAPI:
    """create_app with the fixed test clock (and no web page)."""
    kwargs.setdefault("clock", lambda: NOON)
    kwargs.setdefault("web", False)
    return create_app(settings, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return build_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def signup(client: TestClient, **body: object) -> tuple[str, dict[str, str], str]:
    """Create a user through the API: (user id, auth headers, token)."""
    r = client.post("/v1/users", json=body)
    assert r.status_code == 201, r.text
    doc = r.json()
    return doc["user_id"], {"Authorization": f"Bearer {doc['token']}"}, doc["token"]


def rec_ids(client: TestClient, uid: str, headers: dict[str, str], **params: object) -> list[str]:
    r = client.get(f"/v1/users/{uid}/recommendations", params={"k": 10, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return [it["item_id"] for it in r.json()["items"]]


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a background thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        thread.join(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


# ---- PostgreSQL ---------------------------------------------------------------------------
@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a brand-new PostgreSQL schema (dropped afterwards); skips if the server is unreachable."""
    reason = pg_error(PG_URL)
    if reason:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({reason}); start it or set CINESYNC_TEST_PG_URL")
    schema = f"cinesync_api{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# ---- Redis --------------------------------------------------------------------------------
@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix unique to the test; every key under it is deleted afterwards. Skips without Redis."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({type(e).__name__}: {e}); start it or set "
                    "CINESYNC_TEST_REDIS_URL")
    prefix = f"cinesync-test-{uuid.uuid4().hex[:10]}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
