"""The live service, in three tiers that import only downwards:

- ``engine/``: the in-memory Engine ("history in, ranked items out"), no database, no HTTP;
- ``lifecycle`` (train from the store, load what is served), ``settings`` (where state lives),
  ``service`` (one running service: sessions, the hot-reloaded Engine, caches), ``cache`` and
  ``metrics`` (Prometheus): what the HTTP API and the bot share;
- ``http/`` (the FastAPI app, routers, schemas, auth, web page) and ``bot/`` (Discord).
"""

from cinesync.extras import require

require("sqlalchemy", "alembic", "fastapi", "rapidfuzz", extra="service", what="the service (cinesync.serving)")
