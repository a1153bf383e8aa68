"""The service fixtures for the load-generator test (a seeded SQLite store and its settings)."""

from tests.serving.http.conftest import seeded_sqlite, settings  # noqa: F401
