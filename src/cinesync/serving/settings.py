"""Service settings: where state lives and how to reach the database / Redis.

``Settings.from_env()`` is the one place (besides ``cinesync.cli.main``) that reads the environment;
everything else receives a ``Settings`` or plain arguments.

Environment: CINESYNC_HOME (default ``~/.cinesync``), CINESYNC_DATABASE_URL (default
``sqlite:///$CINESYNC_HOME/cinesync.db``), CINESYNC_REDIS_URL (optional), CINESYNC_ADMIN_TOKEN
(optional).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic

ENV = {
    "home": "CINESYNC_HOME",
    "database_url": "CINESYNC_DATABASE_URL",
    "redis_url": "CINESYNC_REDIS_URL",
    "admin_token": "CINESYNC_ADMIN_TOKEN",
}
DEFAULT_HOME = Path("~/.cinesync")


def sqlite_url(path: Path) -> str:
    """``sqlite:///`` URL of a database file (absolute path)."""
    return f"sqlite:///{path.expanduser().resolve()}"


class Settings(pydantic.BaseModel):
    """home: state directory (``cinesync.db``, ``models/``). database_url: SQLAlchemy URL.
    redis_url: optional cache / rate-limit backend. admin_token: optional bootstrap admin token."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    home: Path
    database_url: str
    redis_url: str | None = None
    admin_token: str | None = pydantic.Field(None, repr=False)

    @pydantic.field_validator("home")
    @classmethod
    def _expand_home(cls, v: Path) -> Path:
        return Path(v).expanduser().resolve()

    @property
    def models_dir(self) -> Path:
        """Where trained artifacts are written (``home/models``)."""
        return self.home / "models"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment, with ``overrides`` (None values ignored) taking precedence.

        The database URL defaults to the SQLite file under the (possibly overridden) home.
        ``environ`` replaces ``os.environ`` (tests).
        """
        env = os.environ if environ is None else environ
        unknown = sorted(set(overrides) - set(ENV))
        if unknown:
            raise TypeError(f"Settings.from_env: unknown setting(s) {unknown}; known: {sorted(ENV)}")
        values: dict[str, Any] = {k: env[v] for k, v in ENV.items() if env.get(v)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        home = Path(values.get("home", DEFAULT_HOME)).expanduser().resolve()
        values["home"] = home
        values.setdefault("database_url", sqlite_url(home / "cinesync.db"))
        return cls(**values)
