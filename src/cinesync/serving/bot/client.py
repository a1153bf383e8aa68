"""The Discord adapter: slash commands that call ``BotHandlers`` and send their ``Reply`` as an embed.

``create_bot(handlers)`` returns a ``discord.Client`` whose ``tree`` (an ``app_commands.CommandTree``)
holds the seven commands /recommend, /rate, /similar, /watch_party, /trending, /hidden_gems and
/mood; enums are Discord choices, title options autocomplete through ``Engine.search``. Handlers
run in a worker thread (database + engine work must not block the gateway heartbeat). Nothing
here connects until ``client.run(token)``; tests inspect the tree and call the callbacks directly.
"""

# no `from __future__ import annotations`: discord.py reads the parameter annotations at definition time

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range

from cinesync.serving.bot.format import Reply, error
from cinesync.serving.bot.handlers import COMPANIES, MAX_LIST, MAX_PARTY, MOODS, BotHandlers, parse_mentions

log = logging.getLogger(__name__)

COMMANDS = ("recommend", "rate", "similar", "watch_party", "trending", "hidden_gems", "mood")
DOMAIN_CHOICES = [Choice(name="Movies & TV", value="all"), Choice(name="Movies", value="movie"),
                  Choice(name="TV shows", value="tv")]
STRATEGY_CHOICES = [Choice(name="Fair (everyone gets their turn)", value="fair"),
                    Choice(name="Average (highest mean)", value="average"),
                    Choice(name="Least misery (nobody hates it)", value="least_misery")]
MOOD_CHOICES = [Choice(name=m, value=m) for m in MOODS]
COMPANY_CHOICES = [Choice(name=c, value=c) for c in COMPANIES]
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
K = Range[int, 1, MAX_LIST]
K_HELP = f"How many titles (1-{MAX_LIST}, default 10)"


def to_embed(reply: Reply) -> discord.Embed:
    """The embed part of ``reply`` (call on a ``clipped()`` reply)."""
    colour = discord.Colour.red() if reply.error else discord.Colour.blurple()
    embed = discord.Embed(title=reply.title, description=reply.description or None, colour=colour)
    for name, value in reply.fields:
        embed.add_field(name=name, value=value, inline=False)
    if reply.footer:
        embed.set_footer(text=reply.footer)
    return embed


async def send(interaction: discord.Interaction, reply: Reply) -> None:
    """Answer ``interaction`` with ``reply`` (cut to Discord's limits; mentions never ping)."""
    r = reply.clipped()
    kwargs: dict[str, Any] = {"ephemeral": r.ephemeral, "allowed_mentions": discord.AllowedMentions.none()}
    if r.has_embed:
        kwargs["embed"] = to_embed(r)
    await interaction.response.send_message(r.text or None, **kwargs)


async def respond(interaction: discord.Interaction, fn: Callable[..., Reply], *args: Any, **kwargs: Any) -> None:
    """Run handler ``fn`` in a worker thread and send its reply; unexpected errors -> an apology."""
    try:
        reply = await asyncio.to_thread(fn, *args, **kwargs)
    except Exception:  # the user gets a message, the log gets the traceback
        log.exception("/%s failed", getattr(interaction.command, "name", "?"))
        reply = error(SORRY)
    await send(interaction, reply)


def _name(interaction: discord.Interaction) -> str:
    return interaction.user.display_name


def register_commands(tree: app_commands.CommandTree, handlers: BotHandlers) -> None:
    """Add the seven CineSync slash commands to ``tree``."""

    async def titles(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        pairs = await asyncio.to_thread(handlers.title_choices, current)
        return [Choice(name=n, value=v) for n, v in pairs]

    @tree.command(name="recommend", description="Your personal recommendations, explained")
    @app_commands.describe(domain="Movies, TV shows or both", k=K_HELP)
    @app_commands.choices(domain=DOMAIN_CHOICES)
    async def recommend(interaction: discord.Interaction, domain: str = "all", k: K = 10) -> None:
        await respond(interaction, handlers.recommend, interaction.user.id, domain, k, name=_name(interaction))

    @tree.command(name="rate", description="Rate a movie or show (0.5 to 5 stars)")
    @app_commands.describe(title="Start typing a title and pick it from the list",
                           rating="Your rating: 0.5 to 5 in steps of 0.5")
    @app_commands.autocomplete(title=titles)
    async def rate(interaction: discord.Interaction, title: str, rating: Range[float, 0.5, 5.0]) -> None:
        await respond(interaction, handlers.rate, interaction.user.id, title, rating, name=_name(interaction))

    @tree.command(name="similar", description="Titles similar to one you name")
    @app_commands.describe(title="Start typing a title and pick it from the list", k=K_HELP,
                           domain="Movies, TV shows or both")
    @app_commands.autocomplete(title=titles)
    @app_commands.choices(domain=DOMAIN_CHOICES)
    async def similar(interaction: discord.Interaction, title: str, k: K = 10, domain: str = "all") -> None:
        await respond(interaction, handlers.similar, title, k, domain)

    @tree.command(name="watch_party", description="One list for a group, with everyone's predicted satisfaction")
    @app_commands.describe(members=f"Mention who is watching, e.g. @ann @bob (up to {MAX_PARTY} people)",
                           strategy="How to balance everyone's taste", k=K_HELP,
                           include_me="Count yourself in (default: yes)")
    @app_commands.choices(strategy=STRATEGY_CHOICES)
    async def watch_party(interaction: discord.Interaction, members: str, strategy: str = "fair", k: K = 10,
                          include_me: bool = True) -> None:
        await respond(interaction, handlers.watch_party, interaction.user.id, parse_mentions(members), strategy,
                      k, include_me=include_me, name=_name(interaction))

    @tree.command(name="trending", description="What many people are watching lately")
    @app_commands.describe(domain="Movies, TV shows or both", k=K_HELP)
    @app_commands.choices(domain=DOMAIN_CHOICES)
    async def trending(interaction: discord.Interaction, domain: str = "all", k: K = 10) -> None:
        await respond(interaction, handlers.trending, domain, k)

    @tree.command(name="hidden_gems", description="Highly rated titles few people have seen")
    @app_commands.describe(domain="Movies, TV shows or both", k=K_HELP)
    @app_commands.choices(domain=DOMAIN_CHOICES)
    async def hidden_gems(interaction: discord.Interaction, domain: str = "all", k: K = 10) -> None:
        await respond(interaction, handlers.hidden_gems, domain, k)

    @tree.command(name="mood", description="Recommendations for your mood (and who you watch with)")
    @app_commands.describe(mood="How you feel", company="Who is watching with you", domain="Movies, TV shows or both",
                           k=K_HELP)
    @app_commands.choices(mood=MOOD_CHOICES, company=COMPANY_CHOICES, domain=DOMAIN_CHOICES)
    async def mood(interaction: discord.Interaction, mood: str, company: str | None = None, domain: str = "all",
                   k: K = 10) -> None:
        await respond(interaction, handlers.mood, interaction.user.id, mood, company, domain, k,
                      name=_name(interaction))

    @tree.error
    async def on_error(interaction: discord.Interaction, err: app_commands.AppCommandError) -> None:
        log.error("slash command error: %s", err, exc_info=err)
        text = str(err) if isinstance(err, app_commands.TransformerError) else SORRY
        if not interaction.response.is_done():
            await send(interaction, error(text))


class CineSyncBot(discord.Client):
    """A Client with the CineSync command tree; syncs the commands when it logs in.

    guild_id: also copy the commands to this server and sync there (shows up instantly; handy
    while developing — global commands can take a while to appear everywhere).
    """

    def __init__(self, handlers: BotHandlers, guild_id: int | None = None) -> None:
        super().__init__(intents=discord.Intents.default())
        self.handlers = handlers
        self.guild_id = guild_id
        self.tree = app_commands.CommandTree(self)
        register_commands(self.tree, handlers)

    async def setup_hook(self) -> None:
        if self.guild_id is not None:
            guild = discord.Object(id=self.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to server %d", len(synced), self.guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands (new ones may take a few minutes to show)", len(synced))

    async def on_ready(self) -> None:
        log.info("logged in as %s; invite: %s", self.user, invite_url(self.application_id or 0))


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot to a server with the scopes it needs (bot, applications.commands)."""
    perms = discord.Permissions(send_messages=True, embed_links=True)
    return discord.utils.oauth_url(application_id, permissions=perms, scopes=("bot", "applications.commands"))


def create_bot(handlers: BotHandlers, guild_id: int | None = None) -> CineSyncBot:
    """The Discord client for ``handlers`` (not connected: call ``.run(token)``)."""
    return CineSyncBot(handlers, guild_id)
