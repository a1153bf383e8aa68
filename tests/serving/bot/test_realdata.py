"""Title resolution on the bundled MovieLens titles: typos, articles, remakes and sequels."""

from __future__ import annotations

import pytest

from cinesync.data.loaders import load_dataset
from cinesync.models.registry import create
from cinesync.serving.bot.handlers import BotHandlers, Refusal
from cinesync.serving.engine.engine import Engine

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def ml_engine() -> Engine:
    data = load_dataset("ml-latest-small", None)
    return Engine(create("pop", {}).fit(data), data)


@pytest.mark.parametrize(("query", "item_id"), [
    ("toy story", "1"), ("the matrix", "2571"), ("Hamlet (1996)", "1411"), ("pulp fictoin", "296"),
    ("jurasic park", "480"), ("#858", "858"), ("toy story 2", "3114"),
])
def test_resolves(ml_engine: Engine, query: str, item_id: str) -> None:
    assert BotHandlers(None, ml_engine).resolve(ml_engine, query).item_id == item_id  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "listed"), [
    ("hamlet", "#1411"), ("star wars", "id `260`"), ("the godfather part 2", "id `1221`"),
])
def test_ambiguous_titles_list_candidates(ml_engine: Engine, query: str, listed: str) -> None:
    with pytest.raises(Refusal, match="could be several titles") as e:
        BotHandlers(None, ml_engine).resolve(ml_engine, query)  # type: ignore[arg-type]
    assert listed in str(e.value)
