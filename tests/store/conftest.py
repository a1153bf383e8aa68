"""Store fixtures: every store test runs on SQLite (a temp file) and on PostgreSQL (marked ``postgres``).

PostgreSQL tests use a schema created for this test session (``search_path`` points at it) and
dropped afterwards; tables are emptied before each test, so runs are repeatable and parallel
workers never share state. They skip, naming the reason, when the server is unreachable.
Override the server with CINESYNC_TEST_PG_URL.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from cinesync.store.db import make_engine, migrate, session_factory
from tests.helpers import PG_URL, pg_error

TABLES = ("promotions", "model_versions", "availability", "events", "items", "users")  # children first


@pytest.fixture(scope="session")
def pg_available() -> None:
    reason = pg_error(PG_URL)
    if reason:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({reason}); start it or set CINESYNC_TEST_PG_URL")


def _schema_url(schema: str) -> str:
    return f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def fresh_pg_url(pg_available: None) -> Iterator[str]:
    """URL of a brand-new, empty PostgreSQL schema (dropped after the test)."""
    schema = f"cinesync_t{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_session_url(pg_available: None) -> Iterator[str]:
    """A migrated PostgreSQL schema shared by this session's tests (emptied before each)."""
    schema = f"cinesync_s{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(schema)
    eng = make_engine(url)
    migrate(eng)
    eng.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("store-template") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate(eng)
    eng.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty, migrated store: a fresh SQLite file, or the emptied session PostgreSQL schema."""
    if request.param == "sqlite":
        target = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_session_url")
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        for table in TABLES:  # DELETE beats TRUNCATE on tables this small
            conn.execute(text(f"DELETE FROM {table}"))
    eng.dispose()
    return url


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory on the test store."""
    return session_factory(engine)
