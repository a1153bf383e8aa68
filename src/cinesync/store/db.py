"""Engines, sessions and migrations: SQLite by default, PostgreSQL (psycopg 3) by URL.

``migrate(engine)`` runs the Alembic scripts shipped in ``cinesync/store/migrations`` up to head,
programmatically (no alembic.ini needed); at head it does nothing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from cinesync.errors import ConfigError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_MS = 30_000


def normalize_url(url: str) -> URL:
    """Parse ``url``; plain ``postgresql://`` / ``postgres://`` become ``postgresql+psycopg://``."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as e:
        raise ConfigError(f"invalid database URL {url!r}: {e}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {parsed.get_backend_name()!r} in {url!r}: "
                          "use sqlite:///path/to/file.db or postgresql://user@host/db")
    return parsed


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001  (DB-API connection)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, echo: bool = False) -> Engine:
    """An Engine for ``url``.

    SQLite: WAL journal, 30 s busy timeout, foreign keys ON, usable from any thread; the file's
    folder is created. In-memory SQLite shares one connection. PostgreSQL goes through psycopg 3.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        memory = db in ("", ":memory:") or db.startswith("file::memory:")
        kwargs: dict = {"connect_args": {"check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = StaticPool
        else:
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory; use ``with factory.begin() as s:`` (repo functions never commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine):  # noqa: ANN201  (alembic.config.Config, imported lazily)
    """An in-memory Alembic config pointing at the packaged migration scripts."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revision(engine: Engine) -> str | None:
    """The newest migration shipped with this version of CineSync."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None = never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> str | None:
    """Upgrade the database to the newest schema (no-op at head); returns the head revision."""
    from alembic import command

    head = head_revision(engine)
    current = current_revision(engine)
    if current == head:
        log.debug("database %s already at schema %s", engine.url.render_as_string(), head)
        return head
    t0 = time.perf_counter()
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log.info("migrated %s from %s to %s in %.2fs", engine.url.render_as_string(), current or "empty", head,
             time.perf_counter() - t0)
    return head
