"""Engine.recommend: history -> ranked, filtered, explained items; new feedback counts at once."""

from __future__ import annotations

import logging

import numpy as np
import pydantic
import pytest

from cinesync.data.history import UserState
from cinesync.errors import ConfigError, UnknownIdError
from cinesync.models.popular import MostPopular
from cinesync.ranking.diversity import intra_list_similarity
from cinesync.serving.engine.engine import Engine, RecRequest

from .helpers import NOON, block, cluster_items, cluster_user

REQ = RecRequest(k=10, diversity=0.0)


def ids(recs: list) -> list[str]:
    return [r.item_id for r in recs]


def test_recommends_own_cluster_explained_and_excludes_history(engine: Engine) -> None:
    user = cluster_user(1)
    recs = engine.recommend(user, REQ)
    assert len(recs) == 10
    assert not set(ids(recs)) & set(user.history)
    assert sum(block(i) == 1 for i in ids(recs)) >= 8
    for r in recs:
        assert r.explanation.text and r.title.startswith("Item ")
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)  # diversity 0 keeps the relevance order


def test_new_rating_changes_next_result_and_is_excluded(engine: Engine) -> None:
    user = cluster_user(0, n=3)
    before = engine.recommend(user, REQ)
    top = before[0].item_id
    after_state = user.with_rating(top, 5.0).with_rating("i2", 5.0).with_rating("i6", 5.0)
    after = engine.recommend(after_state, REQ)
    assert ids(after) != ids(before)
    assert top not in ids(after) and "i2" not in ids(after)


def test_blocked_and_excluded_items_never_shown(engine: Engine) -> None:
    user = cluster_user(2)
    first = ids(engine.recommend(user, REQ))
    blocked = user.with_blocked(first[0])
    recs = ids(engine.recommend(blocked, RecRequest(k=10, diversity=0.0, exclude=[first[1]])))
    assert first[0] not in recs and first[1] not in recs


def test_unknown_history_items_are_ignored_and_logged(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    user = UserState.from_items(cluster_items(3, 5) + ["no-such-item"], [5.0] * 6,
                                blocked=frozenset({"gone-too"}))
    with caplog.at_level(logging.DEBUG, logger="cinesync.serving.engine.engine"):
        recs = engine.recommend(user, REQ)
    assert len(recs) == 10
    assert "no-such-item" in caplog.text


def test_unknown_exclude_id_raises_with_the_id(engine: Engine) -> None:
    with pytest.raises(UnknownIdError, match="nope-42"):
        engine.recommend(cluster_user(0), RecRequest(exclude=["nope-42"]))


def test_filters_domain_genres_years(engine: Engine, rich_data) -> None:
    cat = rich_data.catalog.frame.set_index("item_id")
    user = cluster_user(0)
    tv = engine.recommend(user, RecRequest(k=8, domain="tv"))
    assert tv and all(cat.loc[i, "domain"] == "tv" for i in ids(tv))
    comedy = engine.recommend(user, RecRequest(k=8, genres=["comedy", "Drama"]))
    assert all({"Comedy", "Drama"} & set(cat.loc[i, "genres"]) for i in ids(comedy))
    no_horror = engine.recommend(user, RecRequest(k=20, exclude_genres=["Horror"]))
    assert all("Horror" not in cat.loc[i, "genres"] for i in ids(no_horror))
    years = engine.recommend(user, RecRequest(k=8, year_min=1992, year_max=1995))
    assert years and all(1992 <= cat.loc[i, "year"] <= 1995 for i in ids(years))


def test_unknown_genre_lists_valid_ones(engine: Engine) -> None:
    with pytest.raises(ValueError, match="valid genres: .*Animation"):
        engine.recommend(cluster_user(0), RecRequest(genres=["Telenovela"]))


def test_available_only_uses_providers_region_and_drops_unknown(ease_model, rich_data) -> None:
    avail = {"i4": {("netflix", "DE")}, "i8": {("netflix", "US")}, "i12": {("hulu", "DE")},
             "i16": {("netflix", "DE"), ("hulu", "US")}, "not-in-catalogue": {("netflix", "DE")}}
    eng = Engine(ease_model, rich_data, availability=avail, clock=lambda: NOON)
    user = UserState.from_items(["i0"], [5.0], providers=frozenset({"netflix"}), region="DE")
    recs = ids(eng.recommend(user, RecRequest(k=10, available_only=True)))
    assert sorted(recs) == ["i16", "i4"]
    anywhere = UserState.from_items(["i0"], [5.0])  # no providers / region: any provider, any region
    assert sorted(ids(eng.recommend(anywhere, RecRequest(k=10, available_only=True)))) == \
        ["i12", "i16", "i4", "i8"]
    no_map = Engine(ease_model, rich_data, clock=lambda: NOON)
    assert no_map.recommend(user, RecRequest(available_only=True)) == []


@pytest.mark.parametrize("bad", [{"k": 0}, {"k": 101}, {"domain": "books"}, {"diversity": 1.5},
                                 {"diversity": -0.1}, {"context": {"hour": 24}}, {"context": {"mood": "angry"}},
                                 {"unknown_field": 1}])
def test_invalid_requests_fail_validation(bad: dict) -> None:
    with pytest.raises(pydantic.ValidationError):
        RecRequest.model_validate(bad)


def test_year_range_message() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"year_min \(2010\) must be <= year_max \(2000\)"):
        RecRequest(year_min=2010, year_max=2000)


def test_diversity_lowers_intra_list_similarity(engine: Engine) -> None:
    # a user spread over two blocks: relevance alone stacks one block, MMR mixes genres
    user = UserState.from_items(cluster_items(0, 6) + cluster_items(1, 2), [5.0] * 8)
    plain = engine.recommend(user, RecRequest(k=10, diversity=0.0))
    diverse = engine.recommend(user, RecRequest(k=10, diversity=0.9))
    unit = engine.cat.genre_unit
    sim = lambda recs: intra_list_similarity(unit[[engine.cat.items.index(r.item_id) for r in recs]])
    assert sim(diverse) < sim(plain)


def test_item_vectors_drive_diversity_and_are_validated(ease_model, rich_data) -> None:
    with pytest.raises(ConfigError, match="item_vectors"):
        Engine(ease_model, rich_data, item_vectors=np.ones((3, 2)))
    vec = np.eye(4)[[block(i) for i in rich_data.items.ids]]  # one-hot block vectors
    eng = Engine(ease_model, rich_data, item_vectors=vec, clock=lambda: NOON)
    user = UserState.from_items(cluster_items(0, 6) + cluster_items(1, 4), [5.0] * 10)
    blocks = {block(i) for i in ids(eng.recommend(user, RecRequest(k=4, diversity=1.0)))}
    assert len(blocks) >= 3


def test_model_and_data_must_match(ease_model) -> None:
    from cinesync.data.synthetic import planted

    with pytest.raises(ConfigError, match="items"):
        Engine(ease_model, planted(n_items=40))


def test_cold_start_is_popular_and_genre_diverse(engine: Engine, rich_data) -> None:
    res = engine.recommend_full(UserState(), RecRequest(k=8, diversity=0.0))
    assert res.cold_start and len(res.items) == 8
    assert len({block(r.item_id) for r in res.items}) >= 3
    counts = rich_data.item_counts()
    median = np.median(counts)
    assert all(counts[rich_data.items.index(r.item_id)] >= median for r in res.items)
    unknown_only = engine.recommend(UserState.from_items(["ghost"], [5.0]), RecRequest(k=8, diversity=0.0))
    assert ids(unknown_only) == ids(res.items)


def test_onboarding_then_three_ratings_personalise_immediately(engine: Engine) -> None:
    cold = ids(engine.recommend(UserState(), REQ))
    picks = engine.onboarding(["g2"], k=3)
    user = UserState.from_items([r.item_id for r in picks], [5.0, 4.5, 5.0])
    warm = engine.recommend(user, REQ)
    assert ids(warm) != cold
    assert sum(block(i) == 2 for i in ids(warm)) >= 7
    assert warm[0].explanation.because


def test_works_with_a_model_without_item_state(rich_data) -> None:
    pop = MostPopular().fit(rich_data)
    eng = Engine(pop, rich_data, clock=lambda: NOON)
    recs = eng.recommend(cluster_user(0), RecRequest(k=5))
    assert len(recs) == 5 and all(r.explanation.text for r in recs)

