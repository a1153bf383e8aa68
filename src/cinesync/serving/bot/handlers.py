"""The Discord bot's command logic, free of discord.py: plain arguments in, a ``Reply`` out.

Each Discord user is a CineSync user with external id ``discord:{discord_user_id}``, created on
first use. Personal lists read the user's current ``UserState`` from the store and hand it to
the Engine, so the ``/recommend`` right after a ``/rate`` already reflects the new rating
(fold-in, no retraining). Bad input (unknown or ambiguous title, rating outside 0.5..5, a watch
party of one or of more than 8) becomes a friendly error Reply, never an exception.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, get_args

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cinesync.data.history import UserState
from cinesync.errors import DataError, UnknownIdError
from cinesync.serving.bot.format import DOMAIN_LABEL, Reply, clip, error, hit_lines, item_list, label, stars
from cinesync.serving.engine.engine import Engine
from cinesync.serving.engine.group import STRATEGIES
from cinesync.serving.engine.schemas import Company, Context, Mood, RecRequest, SearchHit
from cinesync.store import repo
from cinesync.store.schema import User

log = logging.getLogger(__name__)

EngineSource = Callable[[], Engine | None]
T = TypeVar("T")

DOMAINS = ("movie", "tv", "all")
MOODS: tuple[str, ...] = get_args(Mood)
COMPANIES: tuple[str, ...] = get_args(Company)
MAX_LIST = 20          # items per list (keeps an embed readable and under Discord's limits)
MAX_PARTY = 8          # people in a watch party, the requester included
#: title-match scores (rapidfuzz WRatio, 0..100): 100 = identical; a fuzzy best match is taken when it
#: leads the runner-up by the margin for its score band ((min score, margin), checked in order)
EXACT, SUGGEST_MIN = 100.0, 60.0
CLEAR_LEAD = ((95.0, 5.0), (85.0, 10.0))
SEARCH_K, SHOW_K, CHOICES_MAX = 10, 5, 25
NO_MODEL = ("CineSync has no trained model yet. Whoever runs the bot should run `cinesync import` and "
            "`cinesync train` first (the bot picks the model up by itself).")
COMPANY_TEXT = {"alone": "on your own", "partner": "with your partner", "family": "with family",
                "friends": "with friends"}
_MENTION = re.compile(r"<@!?(\d+)>")
_EXPLICIT_ID = re.compile(r"^(?:#|id:\s*)(\S+)$", re.IGNORECASE)


class Refusal(Exception):
    """Bad input or no model: the message is shown to the user as it is."""


def _replying(fn: Callable[..., Reply]) -> Callable[..., Reply]:
    """Turn a ``Refusal`` raised inside a handler into an error Reply."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Reply:
        try:
            return fn(*args, **kwargs)
        except Refusal as e:
            return error(str(e))
    return wrapper


def parse_mentions(text: str | None) -> list[int]:
    """Discord user ids mentioned in ``text`` (``<@123>`` / ``<@!123>``), first occurrence order."""
    return list(dict.fromkeys(int(m) for m in _MENTION.findall(text or "")))


def mention(user_id: int) -> str:
    """``<@123>``: Discord shows it as the member's name (and embeds never ping)."""
    return f"<@{int(user_id)}>"


class BotHandlers:
    """One method per slash command.

    engine: an Engine, or a callable returning the Engine currently served (None while no model
    is promoted; the CLI passes ``ServiceState.served``'s engine, which hot-reloads).
    after_write: called with the user's row id after a rating is committed (the service's
    ``ServiceState.after_write`` drops that user's cached lists).
    """

    def __init__(self, session_factory: sessionmaker[Session], engine: Engine | EngineSource,
                 after_write: Callable[[int], None] | None = None) -> None:
        self.factory = session_factory
        self._source: EngineSource = engine if callable(engine) else (lambda: engine)
        self.after_write = after_write

    # ---- helpers -------------------------------------------------------------
    def engine(self) -> Engine:
        """The served Engine; Refusal (NO_MODEL) while there is none."""
        eng = self._source()
        if eng is None:
            raise Refusal(NO_MODEL)
        return eng

    def _with_account(self, user_id: int, name: str | None, fn: Callable[[Session, User], T]) -> T:
        """Run ``fn(session, user)`` in one transaction, creating the user on first use."""
        ext = f"discord:{int(user_id)}"
        for attempt in range(2):
            try:
                with self.factory.begin() as s:
                    try:
                        user = repo.get_user(s, ext)
                    except UnknownIdError:
                        user, _ = repo.create_user(s, display_name=name, external_id=ext)
                        log.info("new Discord user %s (%s)", ext, name)
                    return fn(s, user)
            except IntegrityError:  # created concurrently by another command: read it this time
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def state(self, user_id: int, name: str | None = None) -> UserState:
        """The Discord user's current state (their account is created if needed)."""
        return self._with_account(user_id, name, repo.user_state)

    def _state_if_known(self, user_id: int) -> UserState:
        """A member's state without creating an account (unknown -> empty history)."""
        with self.factory() as s:
            try:
                return repo.user_state(s, repo.get_user(s, f"discord:{int(user_id)}"))
            except UnknownIdError:
                return UserState()

    @staticmethod
    def _request(k: int, domain: str, context: Context | None = None) -> RecRequest:
        if not isinstance(k, int) or not 1 <= k <= MAX_LIST:
            raise Refusal(f"`k` must be a whole number from 1 to {MAX_LIST}, got {k!r}.")
        if domain not in DOMAINS:
            raise Refusal(f"`domain` must be one of {', '.join(DOMAINS)}, got {domain!r}.")
        return RecRequest(k=k, domain=domain, context=context or Context())

    def resolve(self, engine: Engine, query: str) -> SearchHit:
        """The one item ``query`` means: ``#id`` / ``id:ID``, an exact title (optionally with the
        year), a bare item id, or a fuzzy match clearly ahead of the rest (typos); otherwise a
        Refusal listing the candidates (or saying nothing matched)."""
        q = (query or "").strip()
        if not q:
            raise Refusal("Tell me a title, e.g. `Toy Story`.")
        explicit = _EXPLICIT_ID.match(q)
        if explicit:
            item_id = explicit.group(1)
            if item_id not in engine.cat.items:
                raise Refusal(f"There is no title with id `{item_id}`.")
            return self._hit(engine, item_id)
        try:
            hits = engine.search(q, k=SEARCH_K)
        except ValueError:  # no letters or digits in the query
            hits = []
        exact = [h for h in hits if h.score >= EXACT]
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            raise Refusal(self._ambiguous(q, exact))
        if q in engine.cat.items:
            return self._hit(engine, q)
        good = [h for h in hits if h.score >= SUGGEST_MIN]
        if not good:
            raise Refusal(f"I couldn't find a title like “{clip(q, 100)}”. Check the spelling, or pick one of "
                          "the suggestions that appear as you type.")
        top, second = good[0].score, (good[1].score if len(good) > 1 else 0.0)
        if any(top >= band and second <= top - lead for band, lead in CLEAR_LEAD):
            return good[0]
        raise Refusal(self._ambiguous(q, good[:SHOW_K]))

    @staticmethod
    def _ambiguous(q: str, hits: Sequence[SearchHit]) -> str:
        return (f"“{clip(q, 100)}” could be several titles:\n{hit_lines(hits[:SHOW_K])}\n"
                f"Use the exact title (add the year if needed, e.g. `{label(hits[0].title, hits[0].year)}`) "
                f"or the id, e.g. `#{hits[0].item_id}`.")

    @staticmethod
    def _hit(engine: Engine, item_id: str) -> SearchHit:
        i = engine.cat.items.index(item_id)
        c = engine.cat
        return SearchHit(item_id=item_id, title=c.titles[i], year=c.year_of[i], domain=str(c.domain[i]), score=100.0)

    # ---- commands --------------------------------------------------------------
    @_replying
    def recommend(self, user_id: int, domain: str = "all", k: int = 10, name: str | None = None) -> Reply:
        """/recommend: the user's personal list, explained."""
        req = self._request(k, domain)
        return self._personal(user_id, name, req, f"Top {DOMAIN_LABEL[domain]} for {name or 'you'}")

    @_replying
    def mood(self, user_id: int, mood: str, company: str | None = None, domain: str = "all", k: int = 10,
             name: str | None = None) -> Reply:
        """/mood: the personal list for a mood (and optionally who is watching)."""
        if mood not in MOODS:
            raise Refusal(f"`mood` must be one of {', '.join(MOODS)}, got {mood!r}.")
        if company is not None and company not in COMPANIES:
            raise Refusal(f"`company` must be one of {', '.join(COMPANIES)}, got {company!r}.")
        req = self._request(k, domain, Context(mood=mood, company=company))
        who = f" {COMPANY_TEXT[company]}" if company else ""
        return self._personal(user_id, name, req, f"For a {mood} mood{who}")

    def _personal(self, user_id: int, name: str | None, req: RecRequest, title: str) -> Reply:
        engine = self.engine()
        state = self.state(user_id, name)
        result = engine.recommend_full(state, req)
        notes = []
        if result.cold_start:
            notes.append("You haven't rated anything yet: these are popular picks. /rate a few titles to make "
                         "this list yours.")
        else:
            notes.append(f"Based on your {len(state.history)} rating(s).")
        if result.context_reasons:
            notes.append("Context: " + "; ".join(result.context_reasons))
        if not result.items:
            return Reply(text="Nothing left to recommend with these settings.", ephemeral=True)
        return Reply(title=title, description=item_list(result.items), footer=" ".join(notes), ephemeral=True)

    @_replying
    def rate(self, user_id: int, title: str, rating: float, name: str | None = None) -> Reply:
        """/rate: record a 0.5..5 rating for the title ``title`` (a query, ``#id`` or id)."""
        try:
            value = repo.validate_rating(rating)
        except DataError:
            raise Refusal(f"Ratings go from 0.5 to 5 in steps of 0.5 (for example 3.5); got {rating!r}.") from None
        engine = self.engine()
        hit = self.resolve(engine, title)

        def write(s: Session, user: User) -> tuple[int, int]:
            repo.add_event(s, user, hit.item_id, "rating", value)
            return user.id, len(repo.user_state(s, user).history)

        try:
            user_pk, n = self._with_account(user_id, name, write)
        except UnknownIdError:
            raise Refusal(f"{label(hit.title, hit.year)} is not in the catalogue any more.") from None
        if self.after_write is not None:
            self.after_write(user_pk)
        return Reply(text=f"Rated **{label(hit.title, hit.year)}** {stars(value)} ({n} rating(s) so far). "
                          "Your next /recommend takes it into account.", ephemeral=True)

    @_replying
    def similar(self, title: str, k: int = 10, domain: str = "all") -> Reply:
        """/similar: titles like ``title``."""
        self._request(k, domain)
        engine = self.engine()
        hit = self.resolve(engine, title)
        recs = engine.similar(hit.item_id, k=k, domain=domain)
        if not recs:
            return Reply(text=f"I found nothing similar to {label(hit.title, hit.year)}.")
        return Reply(title=f"If you liked {label(hit.title, hit.year)}", description=item_list(recs, explain=False))

    @_replying
    def trending(self, domain: str = "all", k: int = 10) -> Reply:
        """/trending: what many people watched recently."""
        self._request(k, domain)
        recs = self.engine().trending(k=k, domain=domain)
        if not recs:
            return Reply(text="Nothing is trending right now.")
        return Reply(title=f"Trending {DOMAIN_LABEL[domain]}", description=item_list(recs, explain=False))

    @_replying
    def hidden_gems(self, domain: str = "all", k: int = 10) -> Reply:
        """/hidden_gems: highly rated, little-seen titles."""
        self._request(k, domain)
        recs = self.engine().hidden_gems(k=k, domain=domain)
        if not recs:
            return Reply(text="No hidden gems found (too few ratings so far).")
        return Reply(title=f"Hidden gems: {DOMAIN_LABEL[domain]}", description=item_list(recs))

    @_replying
    def watch_party(self, user_id: int, members: Sequence[int], strategy: str = "fair", k: int = 10,
                    domain: str = "all", include_me: bool = True, name: str | None = None) -> Reply:
        """/watch_party: one list for everyone, with each member's predicted satisfaction (0..100 %)."""
        if strategy not in STRATEGIES:
            raise Refusal(f"`strategy` must be one of {', '.join(STRATEGIES)}, got {strategy!r}.")
        req = self._request(k, domain)
        party = list(dict.fromkeys(([int(user_id)] if include_me else []) + [int(m) for m in members]))
        if len(party) < 2:
            raise Refusal("A watch party needs at least two people: mention who is watching, "
                          "e.g. `/watch_party members: @ann @bob`.")
        if len(party) > MAX_PARTY:
            raise Refusal(f"A watch party has at most {MAX_PARTY} people; you listed {len(party)}"
                          f"{' (you included)' if include_me else ''}.")
        engine = self.engine()
        states = {mention(m): (self.state(m, name) if m == user_id else self._state_if_known(m)) for m in party}
        result = engine.group(states, req, strategy)  # type: ignore[arg-type]
        if not result.items:
            return Reply(text="Everything suitable has been seen by someone in the party already.")
        sat = "\n".join(f"{m}: {result.mean[m]:.0%} on average" for m in states)
        notes = [f"Strategy: {strategy.replace('_', ' ')}."]
        new = [m for m, st in states.items() if not st.history]
        if new:
            notes.append(f"{len(new)} member(s) have no ratings yet (their satisfaction is a guess from "
                         "popularity): /rate a few titles first.")
        return Reply(title=f"Watch party for {len(party)}", description=item_list(result.items),
                     fields=(("Predicted satisfaction", sat),), footer=" ".join(notes))

    # ---- autocomplete ------------------------------------------------------------
    def title_choices(self, current: str, limit: int = CHOICES_MAX) -> list[tuple[str, str]]:
        """(shown name, value) pairs for a title option; the value ``#item_id`` resolves exactly.
        Empty input -> trending titles. Never raises (autocomplete must answer)."""
        engine = self._source()
        if engine is None:
            return []
        try:
            if (current or "").strip():
                hits = [(h.title, h.year, h.domain, h.item_id) for h in engine.search(current, k=limit)]
            else:
                hits = [(r.title, r.year, r.domain, r.item_id) for r in engine.trending(k=limit)]
        except ValueError:
            return []
        kind = {"movie": "movie", "tv": "TV"}
        return [(clip(f"{label(t, y)} · {kind.get(d, d)}", 100), clip(f"#{i}", 100)) for t, y, d, i in hits]
