"""The service store: SQLAlchemy 2 tables, Alembic migrations and repository functions.

SQLite by default, PostgreSQL by URL. ``db`` makes engines / sessions and migrates; ``schema``
holds the ORM tables; ``repo`` the validated read/write functions (it re-exports ``importer``,
``snapshot`` and ``versions``). Repository functions never commit: wrap them in
``with factory.begin() as s:``.
"""

from cinesync.extras import require

require("sqlalchemy", "alembic", extra="service", what="the store (cinesync.store)")

from cinesync.store.db import make_engine, migrate, session_factory  # noqa: E402
from cinesync.store.schema import Availability, Base, Event, Item, ModelVersion, Promotion, User  # noqa: E402

__all__ = ["Availability", "Base", "Event", "Item", "ModelVersion", "Promotion", "User", "make_engine", "migrate",
           "session_factory"]
