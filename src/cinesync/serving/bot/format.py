"""Plain-data replies of the Discord bot and the text formatting of recommendation lists.

``Reply`` is what every ``BotHandlers`` method returns: message text and an optional embed
(title, description, fields, footer) as plain strings, so handlers are testable without
discord.py; ``cinesync.serving.bot.client`` turns a Reply into a ``discord.Embed``. Texts use
Discord markdown (``**bold**``, ``_italics_``) and respect Discord's size limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cinesync.serving.engine.schemas import Recommendation, SearchHit

#: Discord limits (characters / counts)
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048

DOMAIN_ICON = {"movie": "🎬", "tv": "📺"}
DOMAIN_LABEL = {"movie": "movies", "tv": "TV shows", "all": "movies & TV"}


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (ending in an ellipsis when cut)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


@dataclass(frozen=True)
class Reply:
    """A bot message as plain data.

    text: message content (may be empty when there is an embed). title: embed title; None means
    no embed. description: embed body. fields: (name, value) pairs. footer: embed footer.
    ephemeral: shown only to the person who ran the command. error: the reply reports bad input
    (or a missing model) rather than a result.
    """

    text: str = ""
    title: str | None = None
    description: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    footer: str | None = None
    ephemeral: bool = False
    error: bool = False

    @property
    def has_embed(self) -> bool:
        return self.title is not None

    def clipped(self) -> Reply:
        """The same reply cut to Discord's limits (content, title, description, fields, footer)."""
        fields = tuple((clip(n, FIELD_NAME_MAX), clip(v, FIELD_VALUE_MAX)) for n, v in self.fields[:FIELDS_MAX])
        title = None if self.title is None else clip(self.title, TITLE_MAX)
        return Reply(text=clip(self.text, CONTENT_MAX), title=title,
                     description=clip(self.description, DESCRIPTION_MAX), fields=fields,
                     footer=None if self.footer is None else clip(self.footer, FOOTER_MAX),
                     ephemeral=self.ephemeral, error=self.error)

    def all_text(self) -> str:
        """Everything a person would read, joined (tests and logs)."""
        parts = [self.text, self.title or "", self.description, *(f"{n}: {v}" for n, v in self.fields),
                 self.footer or ""]
        return "\n".join(p for p in parts if p)


def error(text: str) -> Reply:
    """A reply to bad input: plain text, shown only to the caller."""
    return Reply(text=text, ephemeral=True, error=True)


def label(title: str, year: int | None) -> str:
    """``Heat (1995)``; the year left out when unknown."""
    return title if year is None else f"{title} ({year})"


def stars(rating: float) -> str:
    """``4.5★``; whole ratings without decimals (``4★``)."""
    return f"{rating:g}★"


def item_line(rank: int | None, rec: Recommendation, explain: bool = True) -> str:
    """One list entry: ``**1. Heat** (1995) 🎬 Action, Crime`` plus the explanation on its own line."""
    head = f"**{rec.title}**" if rank is None else f"**{rank}. {rec.title}**"
    year = f" ({rec.year})" if rec.year is not None else ""
    genres = ", ".join(rec.genres[:3])
    line = f"{head}{year} {DOMAIN_ICON.get(rec.domain, '')}".rstrip() + (f" · {genres}" if genres else "")
    if explain and rec.explanation.text:
        line += f"\n  _{rec.explanation.text}_"
    return line


def item_list(recs: Sequence[Recommendation], explain: bool = True) -> str:
    """Numbered entries, one per line block, cut (whole entries) to fit an embed description."""
    out: list[str] = []
    used = 0
    for n, rec in enumerate(recs, start=1):
        line = item_line(n, rec, explain)
        if used + len(line) + 1 > DESCRIPTION_MAX - 40:
            out.append(f"… and {len(recs) - n + 1} more")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def hit_lines(hits: Sequence[SearchHit]) -> str:
    """Search hits as ``• Heat (1995) — id `6` `` lines (for "which one did you mean?")."""
    return "\n".join(f"• {label(h.title, h.year)} — id `{h.item_id}`" for h in hits)
