"""The Discord bot: ``handlers`` (what each slash command does, testable without Discord), ``format``
(replies as text) and ``client`` (the discord.py client wiring the commands to the handlers)."""

from cinesync.extras import require

require("discord", extra="bot", what="the Discord bot (cinesync.serving.bot)")
