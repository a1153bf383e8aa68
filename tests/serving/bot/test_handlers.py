"""BotHandlers on a planted store: every command, fold-in after /rate, and bad input -> friendly errors."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cinesync.serving.bot.format import DESCRIPTION_MAX, FIELD_VALUE_MAX, Reply
from cinesync.serving.bot.handlers import MAX_LIST, NO_MODEL, BotHandlers, parse_mentions
from cinesync.store import repo
from cinesync.store.schema import User

ME = 1001
_ITEM = re.compile(r"\*\*\d+\. Item (\d+)\*\*")


def listed(reply: Reply) -> list[int]:
    """Item numbers of a list reply, in order."""
    return [int(x) for x in _ITEM.findall(reply.description)]


def ratings_of(factory: sessionmaker[Session], discord_id: int) -> dict[str, float | None]:
    with factory() as s:
        st = repo.user_state(s, repo.get_user(s, f"discord:{discord_id}"))
    return dict(zip(st.history, st.ratings, strict=True))


# ---- /recommend and /rate ------------------------------------------------------------
def test_recommend_cold_start_creates_the_account(handlers: BotHandlers, factory: sessionmaker[Session]) -> None:
    r = handlers.recommend(ME, name="Ann")
    assert not r.error and r.ephemeral and r.has_embed
    assert len(listed(r)) == 10 and "/rate" in r.footer
    with factory() as s:
        user = repo.get_user(s, f"discord:{ME}")
        assert user.display_name == "Ann"


def test_rate_then_recommend_reflects_the_new_ratings(handlers: BotHandlers,
                                                     factory: sessionmaker[Session]) -> None:
    before = listed(handlers.recommend(ME, k=10))
    for title in ("Item 0", "Item 4", "#i8", "i12"):  # exact title, explicit id, bare id
        r = handlers.rate(ME, title, 5.0)
        assert not r.error, r.text
        assert "5★" in r.text
    assert ratings_of(factory, ME) == {"i0": 5.0, "i4": 5.0, "i8": 5.0, "i12": 5.0}
    after = handlers.recommend(ME, k=10)
    items = listed(after)
    assert items != before
    assert not {0, 4, 8, 12} & set(items)  # rated titles are not recommended again
    assert sum(i % 4 == 0 for i in items) >= 8  # block 0 now dominates
    assert "Because you rated" in after.description and "4 rating(s)" in after.footer


def test_rate_reports_writes(factory: sessionmaker[Session], engine) -> None:  # noqa: ANN001
    written: list[int] = []
    h = BotHandlers(factory, engine, after_write=written.append)
    h.rate(ME, "Item 3", 4.0)
    h.rate(ME, "Item 3", 9.0)  # refused: nothing written
    with factory() as s:
        assert written == [repo.get_user(s, f"discord:{ME}").id]


def test_rate_again_replaces_the_rating(handlers: BotHandlers, factory: sessionmaker[Session]) -> None:
    handlers.rate(ME, "Item 3", 2.0)
    r = handlers.rate(ME, "Item 3", 4.5)
    assert "4.5★" in r.text and "1 rating(s)" in r.text
    assert ratings_of(factory, ME) == {"i3": 4.5}


@pytest.mark.parametrize("rating", [0.0, 5.5, 4.3, -1.0, float("nan")])
def test_rate_rejects_ratings_outside_the_scale(handlers: BotHandlers, factory: sessionmaker[Session],
                                               rating: float) -> None:
    r = handlers.rate(ME, "Item 3", rating)
    assert r.error and r.ephemeral and "0.5 to 5" in r.text
    with factory() as s:
        assert s.scalar(select(User).where(User.external_id == f"discord:{ME}")) is None


def test_rate_unknown_title_is_friendly(handlers: BotHandlers) -> None:
    r = handlers.rate(ME, "zqxjv wkpf", 4.0)
    assert r.error and "couldn't find" in r.text
    assert handlers.rate(ME, "#nope", 4.0).text == "There is no title with id `nope`."
    assert "Tell me a title" in handlers.rate(ME, "   ", 4.0).text


def test_rate_ambiguous_title_lists_candidates(handlers: BotHandlers) -> None:
    r = handlers.rate(ME, "Item", 4.0)
    assert r.error and "could be several titles" in r.text
    assert r.text.count("• Item ") == 5 and "#i" in r.text and "exact title" in r.text


def test_exact_titles_and_years_resolve(handlers: BotHandlers, engine) -> None:  # noqa: ANN001
    # "Item 1" also fuzzily matches Item 10..19, but only one title is exactly "Item 1"
    assert handlers.resolve(engine, "item 1").item_id == "i1"
    assert handlers.resolve(engine, "Item 1 (1990)").item_id == "i1"
    assert handlers.resolve(engine, "id: i42").item_id == "i42"


# ---- item lists ------------------------------------------------------------------------
def test_similar(handlers: BotHandlers) -> None:
    r = handlers.similar("Item 0", k=5)
    assert not r.error and r.title == "If you liked Item 0 (1990)"
    items = listed(r)
    assert len(items) == 5 and 0 not in items
    assert sum(i % 4 == 0 for i in items) >= 4
    assert handlers.similar("zqxjv wkpf").error


@pytest.mark.parametrize("command", ["trending", "hidden_gems"])
def test_discovery_lists(handlers: BotHandlers, command: str) -> None:
    r = getattr(handlers, command)(k=7)
    assert not r.error and len(listed(r)) == 7
    tv = getattr(handlers, command)(domain="tv", k=5)
    assert listed(tv) and all(i % 2 == 1 for i in listed(tv))  # blocks 1 and 3 are TV
    assert "Hidden gem" in handlers.hidden_gems().description


def test_mood(handlers: BotHandlers) -> None:
    r = handlers.mood(ME, "thrilling", "friends", k=5)
    assert not r.error and r.title == "For a thrilling mood with friends" and len(listed(r)) == 5
    assert handlers.mood(ME, "relaxed").title == "For a relaxed mood"
    assert "`mood` must be one of" in handlers.mood(ME, "grumpy").text
    assert "`company` must be one of" in handlers.mood(ME, "happy", "cats").text


@pytest.mark.parametrize("k", [0, MAX_LIST + 1, -3])
def test_k_out_of_range(handlers: BotHandlers, k: int) -> None:
    for r in (handlers.recommend(ME, k=k), handlers.trending(k=k), handlers.similar("Item 0", k=k)):
        assert r.error and f"from 1 to {MAX_LIST}" in r.text


def test_unknown_domain(handlers: BotHandlers) -> None:
    assert "`domain` must be one of" in handlers.hidden_gems(domain="books").text


# ---- /watch_party ---------------------------------------------------------------------------
def test_watch_party_shows_each_members_satisfaction(handlers: BotHandlers) -> None:
    ann, bob, cid = ME, 2002, 3003
    for t in ("Item 0", "Item 4", "Item 8"):
        handlers.rate(ann, t, 5.0)
    for t in ("Item 1", "Item 5", "Item 9"):
        handlers.rate(bob, t, 5.0)
    for strategy in ("fair", "average", "least_misery"):
        r = handlers.watch_party(ann, [bob, cid], strategy=strategy, k=6)
        assert not r.error and r.title == "Watch party for 3", r.text
        assert len(listed(r)) == 6
        (name, value), = r.fields
        assert name == "Predicted satisfaction"
        assert all(f"<@{m}>: " in value for m in (ann, bob, cid))
        assert re.search(r"Group match: <@1001> \d+%, <@2002> \d+%, <@3003> \d+%", r.description)
        assert "1 member(s) have no ratings" in r.footer  # cid never rated anything
    fair = listed(handlers.watch_party(ann, [bob], k=6))
    assert {i % 4 for i in fair} >= {0, 1}  # both tastes are served


def test_watch_party_bad_input(handlers: BotHandlers) -> None:
    assert "at least two people" in handlers.watch_party(ME, []).text
    assert "at least two people" in handlers.watch_party(ME, [ME]).text  # only yourself
    assert "at least two people" in handlers.watch_party(ME, [2002], include_me=False).text
    too_many = handlers.watch_party(ME, list(range(1, 9)))
    assert too_many.error and "at most 8 people; you listed 9 (you included)" in too_many.text
    assert not handlers.watch_party(ME, list(range(1, 8))).error  # 8 with me
    assert "`strategy` must be one of" in handlers.watch_party(ME, [2002], strategy="loudest").text


def test_parse_mentions() -> None:
    assert parse_mentions("<@12> and <@!34>, <@12> <@&99> @bob 56") == [12, 34]
    assert parse_mentions("") == [] and parse_mentions(None) == []


# ---- autocomplete, no model, limits -------------------------------------------------------------
def test_title_choices(handlers: BotHandlers) -> None:
    choices = handlers.title_choices("item 42")
    assert choices[0] == ("Item 42 (2000) · movie", "#i42")
    assert len(handlers.title_choices("")) == 25  # trending titles before anything is typed
    assert handlers.title_choices("!!!") == []
    assert handlers.resolve(handlers.engine(), choices[0][1]).item_id == "i42"


def test_without_a_model_every_command_says_so(factory: sessionmaker[Session]) -> None:
    h = BotHandlers(factory, lambda: None)
    for r in (h.recommend(ME), h.rate(ME, "Item 1", 4.0), h.similar("Item 1"), h.trending(), h.hidden_gems(),
              h.mood(ME, "happy"), h.watch_party(ME, [2002])):
        assert r.error and r.text == NO_MODEL
    assert h.title_choices("Item") == []


def test_replies_are_clipped_to_discord_limits() -> None:
    r = Reply(text="x" * 3000, title="t" * 300, description="d" * 5000, fields=(("f", "v" * 2000),) * 30,
              footer="z" * 3000).clipped()
    assert len(r.text) == 2000 and len(r.title) == 256 and len(r.description) == DESCRIPTION_MAX
    assert len(r.fields) == 25 and len(r.fields[0][1]) == FIELD_VALUE_MAX and len(r.footer) == 2048
