"""``cinesync bot``: run the Discord bot on the same store and served model as ``cinesync serve``.

The store, the served Engine and its hot reload come from the HTTP service's ``ServiceState``.
The bot token comes from the environment (DISCORD_TOKEN; never a command-line flag, which would
show up in process lists); --home / --database-url default to CINESYNC_HOME /
CINESYNC_DATABASE_URL via ``Settings.from_env``. ``install(app)`` adds the command.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cinesync.cli.common import DbOpt, HomeOpt, VerboseOpt, expected_errors, fail, setup_logging
from cinesync.errors import CineSyncError

if TYPE_CHECKING:
    from cinesync.serving.engine.engine import Engine

log = logging.getLogger(__name__)

TOKEN_ENV = "DISCORD_TOKEN"
MISSING_TOKEN = (f"{TOKEN_ENV} is not set. Create a bot at https://discord.com/developers/applications "
                 f"(Bot -> Reset Token), then run `{TOKEN_ENV}=<token> cinesync bot`.")


def bot(
    guild: Annotated[int | None, typer.Option("--guild", help="Also sync the commands to this server id, where "
                     "they appear at once (development).")] = None,
    check_every: Annotated[float, typer.Option("--check-every", help="Seconds between checks for a newly "
                           "promoted model version.")] = 1.0,
    home: HomeOpt = None, database_url: DbOpt = None, verbose: VerboseOpt = False,
) -> None:
    """Run the CineSync Discord bot (token from the DISCORD_TOKEN environment variable)."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise fail(MISSING_TOKEN)
    setup_logging(verbose)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # the bot never uses voice: drop discord.py's "PyNaCl/davey is not installed" warnings
    logging.getLogger("discord.client").addFilter(lambda r: "voice will NOT be supported" not in r.getMessage())
    with expected_errors():
        _run(token, guild, check_every, home, database_url)


def _run(token: str, guild: int | None, check_every: float, home: Path | None, database_url: str | None) -> None:
    import aiohttp
    import discord

    from cinesync.serving.bot import client as bot_mod
    from cinesync.serving.bot.handlers import BotHandlers
    from cinesync.serving.service import ServiceState
    from cinesync.serving.settings import Settings

    settings = Settings.from_env(home=home, database_url=database_url)
    svc = ServiceState(settings, reload_interval=check_every)  # migrates; hot-reloads promoted versions

    def engine() -> Engine | None:
        served = svc.served
        return None if served is None else served.engine

    try:
        if engine() is None:
            log.warning("no model is served yet: run `cinesync import` and `cinesync train` (the bot answers "
                        "with that hint until a model is promoted, and picks it up by itself)")
        client = bot_mod.create_bot(BotHandlers(svc.sessions, engine, after_write=svc.after_write), guild_id=guild)
        log.info("starting the Discord bot on %s", settings.database_url)
        try:
            client.run(token, log_handler=None)
        except discord.LoginFailure as e:
            raise CineSyncError(f"Discord rejected {TOKEN_ENV} ({e}); copy the token again from the developer "
                                "portal (Bot -> Reset Token)") from None
        except (aiohttp.ClientError, OSError) as e:
            raise CineSyncError(f"could not reach Discord: {e}") from None
    finally:
        svc.close()


def install(app: typer.Typer) -> None:
    """Add ``cinesync bot`` to the main command line."""
    app.command("bot")(bot)
