"""The store commands through typer's CliRunner: import, train, models, availability, user create."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import cinesync.data.loaders as loaders
from cinesync.cli.store import install
from cinesync.data.synthetic import planted
from cinesync.store import repo
from cinesync.store.db import make_engine, session_factory


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """A fresh app with the store commands; load_dataset returns small planted data; logging restored."""
    app = typer.Typer(add_completion=False)
    models_app = typer.Typer()
    app.add_typer(models_app, name="models")
    install(app, models_app)
    monkeypatch.setattr(loaders, "load_dataset", lambda name, path=None, **kw: planted(n_users=40, n_items=24,
                                                                                      per_user=6))
    for var in ("CINESYNC_HOME", "CINESYNC_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield app
    root.handlers[:] = handlers
    root.setLevel(level)


def run(app: typer.Typer, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    if code == 2:
        assert "Traceback" not in result.output
    return result.output


def test_import_train_and_version_commands(cli: typer.Typer, store_url: str, tmp_path: Path) -> None:
    db = ("--home", tmp_path, "--database-url", store_url)
    out = run(cli, "import", "--no-progress", *db)
    assert "users: 40 new, 0 existing" in out and "events: 240 new, 0 existing" in out
    out = run(cli, "import", "--no-progress", *db)
    assert "events: 0 new, 240 existing" in out and "items: 0 new, 24 existing" in out

    out = run(cli, "train", "--set", "l2=20", "--no-progress", *db)
    assert "version: ease-v1 (id 1)" in out and "promoted" in out and "ndcg@10=" in out
    assert f"path: {tmp_path / 'models' / 'ease-v1'}" in out and "fit seconds:" in out
    out = run(cli, "train", "--model", "pop", "--no-eval", "--no-progress", *db)
    assert "version: pop-v1 (id 2)" in out and "promoted" not in out and "metrics: -" in out

    out = run(cli, "models", "list", *db)
    assert re.search(r"\*\s*│\s*1\s*│\s*ease-v1", out) and "pop-v1" in out
    assert "promoted pop-v1 (id 2)" in run(cli, "models", "promote", "2", *db)
    assert "promoted ease-v1 (id 1)" in run(cli, "models", "promote", "ease-v1", *db)
    assert "rolled back: pop-v1 (id 2)" in run(cli, "models", "rollback", *db)
    out = run(cli, "models", "promote", "77", *db, code=2)
    assert "error: unknown model version '77'" in out
    with session_factory(make_engine(store_url))() as s:
        assert repo.promoted_version(s).label == "pop-v1"


def test_bad_input_exits_2_with_one_line(cli: typer.Typer, tmp_path: Path) -> None:
    db = ("--home", tmp_path)
    assert "error: the store holds no ratings" in run(cli, "train", "--no-progress", *db, code=2)
    assert "error: cannot roll back: no version" in run(cli, "models", "rollback", *db, code=2)
    assert "no model versions yet" in run(cli, "models", "list", *db)
    assert "file not found" in run(cli, "availability", "import", tmp_path / "none.csv", *db, code=2)
    run(cli, "import", "--no-progress", *db)
    assert "unknown model 'nope'" in run(cli, "train", "--model", "nope", *db, code=2)
    assert "invalid config for model 'ease'" in run(cli, "train", "--set", "l2=-1", *db, code=2)
    assert "PARAM=VALUE" in run(cli, "train", "--set", "l2", *db, code=2)
    assert "unsupported database" in run(cli, "models", "list", "--database-url", "mysql://x/y", code=2)
    assert (tmp_path / "cinesync.db").is_file()  # default database under --home


def test_availability_import_command(cli: typer.Typer, tmp_path: Path) -> None:
    db = ("--home", tmp_path)
    run(cli, "import", "--no-progress", *db)
    f = tmp_path / "av.csv"
    f.write_text("item_id,provider,region\ni1,netflix,US\ni2,netflix,US\nx9,netflix,US\n")
    out = run(cli, "availability", "import", f, *db)
    assert "3 rows, 2 new, 0 existing, 1 with unknown item ids skipped" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,provider\ni1,netflix\n")
    assert "bad.csv: line 1: missing column(s) region" in run(cli, "availability", "import", bad, *db, code=2)


def test_user_create_prints_a_token_only_its_hash_is_stored(cli: typer.Typer, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINESYNC_HOME", str(tmp_path))  # --home from the environment
    out = run(cli, "user", "create", "--name", "Ann", "--admin", "--id", "ann", "--region", "us",
              "--provider", "netflix")
    token = re.search(r"token: (\S+)", out).group(1)
    assert "user id: ann (admin)" in out
    with session_factory(make_engine(f"sqlite:///{tmp_path / 'cinesync.db'}"))() as s:
        user = repo.user_by_token(s, token)
        assert user.external_id == "ann" and user.is_admin and user.token_hash != token
    assert "'ann' already exists" in run(cli, "user", "create", "--id", "ann", code=2)


@pytest.mark.parametrize("cmd", [["import"], ["train"], ["availability", "import"], ["models", "list"],
                                 ["models", "promote"], ["models", "rollback"], ["user", "create"]])
def test_help_texts(cli: typer.Typer, cmd: list[str]) -> None:
    out = run(cli, *cmd, "--help")
    assert "--database-url" in out and "--home" in out


def test_import_command_refuses_bad_files_and_changes_nothing(tmp_path: Path) -> None:
    """The real loader behind ``cinesync import``: a bad row fails the whole import (file and line named);
    --skip-bad-rows imports the rest and reports the skipped lines; a file without ratings needs --implicit."""
    from cinesync.cli.main import app

    db = ["--home", str(tmp_path), "--database-url", f"sqlite:///{tmp_path / 's.db'}", "--no-progress"]
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating,timestamp\n1,1,4,1500000000\n1,2,99,1500000001\n2,2,inf,1500000002\n")
    out = run(app, "import", "--dataset", bad, *db, code=2)
    assert "bad.csv: line 3: rating '99' is not on the rating scale 0.5..5 in steps of 0.5" in out
    assert "2 bad rows in all; also line(s) 4" in out and "--skip-bad-rows" in out
    assert not (tmp_path / "s.db").exists()  # refused before the store was even opened
    out = run(app, "import", "--dataset", bad, "--skip-bad-rows", *db)
    assert "events: 1 new" in out and "skipped 2 bad row(s): line 3: rating '99'" in out
    implicit = tmp_path / "watched.csv"
    implicit.write_text("user,item\n1,1\n3,2\n")
    assert "--implicit" in run(app, "import", "--dataset", implicit, *db, code=2)
    assert "events: 2 new" in run(app, "import", "--dataset", implicit, "--implicit", *db)
    scaled = tmp_path / "ten.csv"
    scaled.write_text("user,item,rating\n5,1,10\n")
    assert "--rating-scale" in run(app, "import", "--dataset", scaled, *db, code=2)
    assert "events: 1 new" in run(app, "import", "--dataset", scaled, "--rating-scale", "1:10:1", *db)
