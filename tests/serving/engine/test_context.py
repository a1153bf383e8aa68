"""Context rules: family, time budget, mood, late hours, phone; boosts move items by a known amount."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

import cinesync.serving.engine.context as context_module
from cinesync.data.history import UserState
from cinesync.serving.engine.context import CONTEXT_RULES, resolve, standardise
from cinesync.serving.engine.engine import Context, Engine, RecRequest

from .helpers import NOON, cluster_items, runtime_of


def genres_of(engine: Engine, recs: list) -> list[tuple[str, ...]]:
    return [engine.cat.genres[engine.cat.items.index(r.item_id)] for r in recs]


def count_genre(engine: Engine, recs: list, genre: str) -> int:
    return sum(genre in g for g in genres_of(engine, recs))


USER = UserState.from_items(cluster_items(0, 4) + cluster_items(1, 4), [5.0] * 8)


def req(**ctx: object) -> RecRequest:
    return RecRequest(k=12, diversity=0.0, context=Context(**dict({"hour": 12, "weekday": 2}, **ctx)))


def test_rule_table_is_documented() -> None:
    doc = context_module.__doc__ or ""
    for rule in CONTEXT_RULES:
        assert rule.reason
        assert rule.field in doc and (rule.value in doc or rule.value in ("any", "late"))
        for g in rule.genres:
            assert g in doc


def test_family_excludes_horror_and_boosts_animation(engine: Engine) -> None:
    plain = engine.recommend(USER, req())
    family = engine.recommend_full(USER, req(company="family"))
    assert count_genre(engine, plain, "Horror") > 0
    assert count_genre(engine, family.items, "Horror") == 0
    assert count_genre(engine, family.items, "Animation") > count_genre(engine, plain, "Animation")
    assert any("family" in r for r in family.context_reasons)
    animated = [r for r in family.items if "Animation" in genres_of(engine, [r])[0]]
    assert all(any("animation" in x for x in r.context_reasons) for r in animated)


def test_time_budget_filters_known_runtimes_keeps_unknown_and_tv(engine: Engine) -> None:
    recs = engine.recommend(USER, RecRequest(k=40, diversity=0.0, context=Context(hour=12, weekday=2,
                                                                                  time_budget=90)))
    assert recs
    for r in recs:
        i = int(r.item_id[1:])
        known = runtime_of(i)
        assert known is None or known <= 90 or r.domain == "tv"
        assert r.runtime == known
    assert any(runtime_of(int(r.item_id[1:])) is None for r in recs)  # unknown runtime kept
    assert any(r.domain == "tv" and (r.runtime or 0) > 90 for r in recs)  # an episode fits
    short = engine.recommend(USER, RecRequest(k=40, context=Context(hour=12, weekday=2, time_budget=20)))
    assert all(r.runtime is None for r in short)  # 20 min: no movie fits, and not even an episode


def test_scary_mood_boosts_horror(engine: Engine) -> None:
    plain = engine.recommend(USER, req())
    scary = engine.recommend(USER, req(mood="scary"))
    assert count_genre(engine, scary, "Horror") > count_genre(engine, plain, "Horror")


def test_boost_moves_score_by_its_amount(engine: Engine) -> None:
    """final = z(score) + boost: the same item scores exactly +0.75 higher with mood=scary."""
    wide = RecRequest(k=100, diversity=0.0, context=Context(hour=12, weekday=2))
    plain = {r.item_id: r.score for r in engine.recommend(USER, wide)}
    scary_req = wide.model_copy(update={"context": Context(hour=12, weekday=2, mood="scary")})
    scary = {r.item_id: r.score for r in engine.recommend(USER, scary_req)}
    horror = [i for i in scary if "Horror" in engine.cat.genres[engine.cat.items.index(i)]]
    other = [i for i in scary if i not in horror]
    assert horror and other
    assert all(scary[i] - plain[i] == pytest.approx(0.75) for i in horror)
    assert all(scary[i] == pytest.approx(plain[i]) for i in other)


@pytest.mark.parametrize(("ctx", "reason"), [
    ({"company": "partner"}, "partner"), ({"company": "friends"}, "friends"), ({"mood": "happy"}, "happy"),
    ({"mood": "thoughtful"}, "thoughtful"), ({"device": "phone"}, "phone"), ({"hour": 23}, "late"),
])
def test_rules_fire_and_are_reported(engine: Engine, ctx: dict, reason: str) -> None:
    full = dict({"hour": 12, "weekday": 2}, **ctx)
    res = engine.recommend_full(USER, RecRequest(k=5, context=Context(**full)))
    assert any(reason in r for r in res.context_reasons)
    plain = engine.recommend_full(USER, RecRequest(k=5, context=Context(hour=12, weekday=2)))
    assert plain.context_reasons == []


def test_phone_and_late_prefer_tv_and_short(engine: Engine) -> None:
    plain = engine.recommend(USER, req())
    phone = engine.recommend(USER, req(device="phone", hour=23))
    assert sum(r.domain == "tv" for r in phone) > sum(r.domain == "tv" for r in plain)


def test_hour_and_weekday_default_to_the_clock(ease_model, rich_data) -> None:
    late = Engine(ease_model, rich_data, clock=lambda: datetime(2024, 1, 6, 23, 30))  # Saturday night
    res = late.recommend_full(USER, RecRequest(k=3))
    assert (res.context.hour, res.context.weekday) == (23, 5)
    assert any("late" in r for r in res.context_reasons)
    assert resolve(Context(hour=9), NOON).model_dump()["weekday"] == 2


def test_standardise() -> None:
    z = standardise(np.array([1.0, 2.0, 3.0]))
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    assert np.all(standardise(np.array([4.0, 4.0])) == 0.0)
    assert len(standardise(np.zeros(0))) == 0
