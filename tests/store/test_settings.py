"""Settings.from_env: defaults, environment, overrides (the only environment reader besides the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cinesync.serving.settings import Settings


def test_defaults_from_an_empty_environment() -> None:
    s = Settings.from_env({})
    assert s.home == Path("~/.cinesync").expanduser().resolve()
    assert s.database_url == f"sqlite:///{s.home / 'cinesync.db'}"
    assert s.redis_url is None and s.admin_token is None
    assert s.models_dir == s.home / "models"


def test_environment_and_overrides(tmp_path: Path) -> None:
    env = {"CINESYNC_HOME": str(tmp_path / "h"), "CINESYNC_REDIS_URL": "redis://localhost:6379/0",
           "CINESYNC_ADMIN_TOKEN": "secret", "UNRELATED": "x"}
    s = Settings.from_env(env)
    assert s.home == tmp_path / "h" and s.database_url == f"sqlite:///{tmp_path / 'h' / 'cinesync.db'}"
    assert s.redis_url == "redis://localhost:6379/0" and s.admin_token == "secret"
    assert "secret" not in repr(s)
    o = Settings.from_env(env, home=tmp_path / "other", admin_token=None)  # None = not overridden
    assert o.home == tmp_path / "other" and o.database_url.endswith("other/cinesync.db") and o.admin_token == "secret"
    pg = Settings.from_env({**env, "CINESYNC_DATABASE_URL": "postgresql://u@h/db"}, home=tmp_path)
    assert pg.database_url == "postgresql://u@h/db"
    assert Settings.from_env(env, database_url="sqlite:///x.db").database_url == "sqlite:///x.db"


def test_reads_os_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CINESYNC_HOME", str(tmp_path))
    monkeypatch.delenv("CINESYNC_DATABASE_URL", raising=False)
    assert Settings.from_env().home == tmp_path


def test_unknown_override() -> None:
    with pytest.raises(TypeError, match="unknown setting"):
        Settings.from_env({}, hom="/x")
