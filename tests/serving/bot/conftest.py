"""Bot fixtures: a SQLite store with planted data and a trained EASE model, and handlers on a copy of it.

Planted data (see ``cinesync.data.synthetic.planted``): titles "Item 0".."Item 99", item ``i{n}``
belongs to block n % 4 (genre "g{block}"; blocks 0 and 2 are movies, 1 and 3 TV), and users in
cluster c mostly rate block c — so rating a few block-0 titles must pull block 0 up.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cinesync.data.synthetic import planted
from cinesync.serving.bot.handlers import BotHandlers
from cinesync.serving.engine.engine import Engine
from cinesync.serving.lifecycle import engine_snapshot, load_served_model, train_from_store
from cinesync.store import repo
from cinesync.store.db import make_engine, migrate, session_factory
from cinesync.store.importer import import_dataset

with warnings.catch_warnings():  # discord.py imports the deprecated audioop (voice support we do not use)
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord  # noqa: F401

NOON = datetime(2024, 1, 3, 12, 0)  # a Wednesday: few context rules fire


@pytest.fixture(scope="session")
def bot_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding planted data and a promoted EASE version (artifact next to it)."""
    home = tmp_path_factory.mktemp("bot-home")
    path = home / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    try:
        migrate(eng)
        factory = session_factory(eng)
        import_dataset(factory, planted(), "planted", progress=False)
        train_from_store(factory, home, "ease", {"l2": 10.0}, evaluate=False, progress=False)
    finally:
        eng.dispose()
    return path


@pytest.fixture(scope="session")
def engine(bot_template: Path) -> Engine:
    """The Engine of the template's promoted model, with a fixed clock."""
    eng = make_engine(f"sqlite:///{bot_template}")
    try:
        with session_factory(eng)() as s:
            loaded = load_served_model(s)
            assert loaded is not None
            model, items, _ = loaded
            return Engine(model, engine_snapshot(s, items), availability=repo.availability_map(s), clock=lambda: NOON)
    finally:
        eng.dispose()


@pytest.fixture
def factory(bot_template: Path, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """Session factory on a private copy of the template store."""
    target = tmp_path / "bot.db"
    shutil.copyfile(bot_template, target)
    eng = make_engine(f"sqlite:///{target}")
    yield session_factory(eng)
    eng.dispose()


@pytest.fixture
def handlers(factory: sessionmaker[Session], engine: Engine) -> BotHandlers:
    return BotHandlers(factory, engine)
