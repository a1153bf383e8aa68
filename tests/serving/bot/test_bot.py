"""The discord.py layer (no network): the command tree, the /rate adapter, autocomplete, errors;
plus the `cinesync bot` command on the service's ServiceState."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
import typer
from typer.testing import CliRunner

from cinesync.cli import bot as cli_bot
from cinesync.serving.bot import client as bot_mod
from cinesync.serving.bot.client import COMMANDS, SORRY, create_bot, invite_url
from cinesync.serving.bot.handlers import NO_MODEL, BotHandlers

EXPECTED = {
    "recommend": ["domain", "k"],
    "rate": ["title", "rating"],
    "similar": ["title", "k", "domain"],
    "watch_party": ["members", "strategy", "k", "include_me"],
    "trending": ["domain", "k"],
    "hidden_gems": ["domain", "k"],
    "mood": ["mood", "company", "domain", "k"],
}


class FakeResponse:
    """Records what the adapter sends instead of talking to Discord."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_message(self, content: str | None = None, **kwargs: Any) -> None:
        self.sent.append({"content": content, **kwargs})

    def is_done(self) -> bool:
        return bool(self.sent)


def interaction(user_id: int = 1001, name: str = "Ann") -> Any:
    return SimpleNamespace(user=SimpleNamespace(id=user_id, display_name=name), response=FakeResponse(),
                           command=None)


def command(client: discord.Client, name: str) -> Any:
    cmd = client.tree.get_command(name)
    assert cmd is not None, name
    return cmd


def test_create_bot_registers_exactly_the_seven_commands(handlers: BotHandlers) -> None:
    client = create_bot(handlers)
    cmds = client.tree.get_commands()
    assert sorted(c.name for c in cmds) == sorted(COMMANDS) == sorted(EXPECTED)
    for c in cmds:
        assert [p.name for p in c.parameters] == EXPECTED[c.name], c.name
        payload = c.to_dict(client.tree)  # what would be synced: must serialise
        assert payload["name"] == c.name and 1 <= len(payload["description"]) <= 100
    rate = command(client, "rate")
    title, rating = rate.parameters
    assert title.required and title.autocomplete and (rating.min_value, rating.max_value) == (0.5, 5.0)
    assert [ch.value for ch in command(client, "recommend").get_parameter("domain").choices] == ["all", "movie", "tv"]
    assert {ch.value for ch in command(client, "watch_party").get_parameter("strategy").choices} == {
        "average", "least_misery", "fair"}
    mood = command(client, "mood")
    assert mood.get_parameter("mood").required and not mood.get_parameter("company").required
    assert command(client, "similar").get_parameter("title").autocomplete


def test_rate_adapter_calls_the_handler_and_sends_its_reply(handlers: BotHandlers,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = handlers.rate

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(handlers, "rate", spy)
    client = create_bot(handlers)
    it = interaction()
    asyncio.run(command(client, "rate").callback(it, title="#i3", rating=4.5))
    assert calls == [((1001, "#i3", 4.5), {"name": "Ann"})]
    (sent,) = it.response.sent
    assert sent["content"].startswith("Rated **Item 3 (1990)** 4.5★") and sent["ephemeral"] is True
    assert "embed" not in sent


def test_recommend_adapter_sends_an_embed(handlers: BotHandlers) -> None:
    client = create_bot(handlers)
    it = interaction()
    asyncio.run(command(client, "recommend").callback(it, domain="tv", k=3))
    (sent,) = it.response.sent
    embed: discord.Embed = sent["embed"]
    assert sent["content"] is None and embed.title == "Top TV shows for Ann"
    assert embed.description.count("**") == 6 and "/rate" in embed.footer.text


def test_watch_party_adapter_parses_mentions(handlers: BotHandlers) -> None:
    client = create_bot(handlers)
    it = interaction()
    asyncio.run(command(client, "watch_party").callback(it, members="<@2002> <@!3003>", strategy="fair", k=3,
                                                        include_me=True))
    embed = it.response.sent[0]["embed"]
    assert embed.title == "Watch party for 3" and embed.fields[0].name == "Predicted satisfaction"
    it = interaction()
    asyncio.run(command(client, "watch_party").callback(it, members="bob", strategy="fair", k=3, include_me=True))
    assert "at least two people" in it.response.sent[0]["content"] and it.response.sent[0]["ephemeral"]


def test_autocomplete_offers_titles_with_ids(handlers: BotHandlers) -> None:
    client = create_bot(handlers)
    param = command(client, "rate")._params["title"]
    choices = asyncio.run(param.autocomplete(interaction(), "item 42"))
    assert choices[0].name == "Item 42 (2000) · movie" and choices[0].value == "#i42"


def test_unexpected_handler_errors_become_an_apology(handlers: BotHandlers, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(handlers, "trending", boom)
    it = interaction()
    asyncio.run(command(create_bot(handlers), "trending").callback(it, domain="all", k=5))
    assert it.response.sent[0]["content"] == SORRY and it.response.sent[0]["ephemeral"]


def test_invite_url_asks_for_the_commands_scope() -> None:
    url = invite_url(123)
    assert "client_id=123" in url and "applications.commands" in url and "bot" in url


# ---- `cinesync bot` ---------------------------------------------------------------------------
def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test root"""

    cli_bot.install(app)
    return app


def test_cli_bot_requires_a_token(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["bot", "--home", str(tmp_path)], env={"DISCORD_TOKEN": ""})
    assert result.exit_code == 2
    assert "DISCORD_TOKEN is not set" in result.output


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace create_bot by a recorder whose client 'runs' without connecting."""
    seen: dict[str, Any] = {}

    class FakeClient:
        def run(self, token: str, log_handler: Any = None) -> None:
            seen["token"] = token

    def fake_create_bot(handlers: BotHandlers, guild_id: int | None = None) -> FakeClient:
        seen["handlers"], seen["guild"] = handlers, guild_id
        return FakeClient()

    monkeypatch.setattr(bot_mod, "create_bot", fake_create_bot)
    return seen


def test_cli_bot_runs_the_client_with_the_env_token(tmp_path: Path, fake_client: dict[str, Any]) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(_app(), ["bot", "--guild", "42"],
                                env={"DISCORD_TOKEN": "secret-token", "CINESYNC_HOME": str(home),
                                     "CINESYNC_DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    assert fake_client["token"] == "secret-token" and fake_client["guild"] == 42
    assert (home / "cinesync.db").is_file()  # the store under CINESYNC_HOME was created and migrated
    assert fake_client["handlers"].recommend(1).text == NO_MODEL  # nothing trained yet


def test_cli_bot_serves_the_promoted_model(bot_template: Path, tmp_path: Path, fake_client: dict[str, Any]) -> None:
    db = tmp_path / "store.db"
    shutil.copyfile(bot_template, db)
    result = CliRunner().invoke(_app(), ["bot", "--database-url", f"sqlite:///{db}", "--home", str(tmp_path)],
                                env={"DISCORD_TOKEN": "t"})
    assert result.exit_code == 0, result.output
    h: BotHandlers = fake_client["handlers"]
    assert not h.trending(k=3).error
    assert not h.rate(7, "Item 5", 4.0).error
    assert "Because you rated Item 5 4★" in h.recommend(7).description
