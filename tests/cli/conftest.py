"""The store fixtures for the command tests (an empty, migrated SQLite file or PostgreSQL schema)."""

from tests.serving.http.conftest import pg_url  # noqa: F401
from tests.store.conftest import pg_available, pg_session_url, sqlite_template, store_url  # noqa: F401
