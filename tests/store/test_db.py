"""Engines and migrations: fresh databases migrate to head, a second migrate is a no-op, and the
migrated schema matches the ORM metadata on SQLite and PostgreSQL."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from cinesync.errors import ConfigError
from cinesync.store.db import current_revision, head_revision, make_engine, migrate, normalize_url
from cinesync.store.schema import Base

TABLES = {"users", "items", "availability", "events", "model_versions", "promotions", "alembic_version"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A brand-new empty database: a SQLite file that does not exist yet, or an empty PG schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}"
    return request.getfixturevalue("fresh_pg_url")


def test_migrate_fresh_database_then_noop(fresh_url: str) -> None:
    eng = make_engine(fresh_url)
    try:
        assert current_revision(eng) is None
        head = migrate(eng)
        assert head == head_revision(eng) == current_revision(eng)
        assert set(inspect(eng).get_table_names()) >= TABLES
        with eng.connect() as conn:
            conn.execute(text("INSERT INTO items (item_id, title, genres, domain, overview, tags, extra) "
                              "VALUES ('1', 't', '[]', 'movie', '', '[]', '{}')"))
            conn.commit()
        assert migrate(eng) == head  # no-op at head: data untouched
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 1
    finally:
        eng.dispose()


def test_orm_metadata_matches_migrated_schema(fresh_url: str) -> None:
    eng = make_engine(fresh_url)
    try:
        migrate(eng)
        with eng.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diffs == []
    finally:
        eng.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    eng.dispose()


def test_in_memory_sqlite_migrates() -> None:
    eng = make_engine("sqlite://")
    migrate(eng)
    assert "events" in inspect(eng).get_table_names()


def test_url_normalisation() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        normalize_url("mysql://u@h/db")
    with pytest.raises(ConfigError, match="invalid database URL"):
        normalize_url("not a url")


def test_migrations_ship_as_package_data() -> None:
    mig = resources.files("cinesync.store") / "migrations"
    assert (mig / "env.py").is_file() and (mig / "script.py.mako").is_file()
    assert (mig / "versions" / "0001_initial.py").is_file()
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    data = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["cinesync"]
    assert {"store/migrations/*", "store/migrations/versions/*"} <= set(data)
