"""Trending, hidden gems, similar titles, fuzzy search and onboarding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cinesync.data.dataset import Interactions
from cinesync.data.history import UserState
from cinesync.errors import UnknownIdError
from cinesync.models.popular import MostPopular
from cinesync.serving.engine.engine import Engine

from .helpers import NOON, block

DAY = 86400


@pytest.fixture(scope="module")
def small_engine() -> Engine:
    """5 items: 'old' was hugely popular long ago, 'new' a little popular this week; gems by rating."""
    rows = []
    now = 1_700_000_000
    for u in range(30):
        rows.append((f"u{u}", "old", 3.0, now - 400 * DAY))
    for u in range(8):
        rows.append((f"u{u}", "new", 4.0, now - 2 * DAY))
    for u in range(12):  # a well-rated, little-seen film
        rows.append((f"v{u}", "gem", 5.0 if u % 4 else 4.0, now - 100 * DAY))
    for u in range(3):  # perfect mean but too few ratings to trust
        rows.append((f"w{u}", "tiny", 5.0, now - 100 * DAY))
    for u in range(60):
        rows.append((f"x{u}", "blockbuster", 3.5, now - 50 * DAY))
    df = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    cat = pd.DataFrame({
        "item_id": ["old", "new", "gem", "tiny", "blockbuster", "matrix", "matrix2"],
        "title": ["Casablanca", "Heat", "Primer", "Tiny Film", "Titanic", "Matrix, The", "Matrix Reloaded, The"],
        "year": [1942, 1995, 2004, 2020, 1997, 1999, 2003],
        "genres": [("Drama", "Romance"), ("Crime", "Thriller"), ("Sci-Fi",), ("Drama",), ("Romance",),
                   ("Action", "Sci-Fi"), ("Action", "Sci-Fi")],
        "domain": ["movie", "movie", "movie", "movie", "movie", "movie", "tv"],
    })
    data = Interactions.from_frame(df, catalog=cat, name="small")
    return Engine(MostPopular().fit(data), data, clock=lambda: NOON)


def test_trending_decays_with_age(small_engine: Engine) -> None:
    recent = [r.item_id for r in small_engine.trending(k=3, half_life_days=7)]
    assert recent[0] == "new"
    assert [r.item_id for r in small_engine.trending(k=1, half_life_days=10_000)] == ["blockbuster"]
    # as of a year earlier, only 'old' had happened
    early = small_engine.trending(k=5, now=1_700_000_000 - 399 * DAY)
    assert [r.item_id for r in early] == ["old"]
    with pytest.raises(ValueError, match="half_life_days"):
        small_engine.trending(half_life_days=0)


def test_hidden_gems_need_enough_ratings_and_low_popularity(small_engine: Engine) -> None:
    gems = small_engine.hidden_gems(k=5, min_ratings=10)
    ids = [r.item_id for r in gems]
    assert ids[0] == "gem"
    assert "tiny" not in ids and "blockbuster" not in ids  # too few ratings / too popular
    assert "rated 4.8 on average by 12 people" in gems[0].explanation.text
    assert gems[0].score < 4.75  # shrunk toward the global mean


def test_search(small_engine: Engine) -> None:
    hits = small_engine.search("the matrix")
    assert hits[0].item_id == "matrix" and hits[0].score == 100.0
    assert all(0 <= h.score <= 100 for h in hits)
    assert small_engine.search("casablanka", k=1)[0].title == "Casablanca"  # typo
    assert small_engine.search("heat (1995)", k=1)[0].year == 1995
    assert [h.item_id for h in small_engine.search("matrix", domain="tv")] == ["matrix2"]
    for bad in ("", "   "):
        with pytest.raises(ValueError, match="empty"):
            small_engine.search(bad)


def test_onboarding_balanced_and_validated(engine: Engine) -> None:
    picks = engine.onboarding(["Horror", "Animation"], k=6)
    genres = [engine.cat.genres[engine.cat.items.index(r.item_id)] for r in picks]
    assert sum("Horror" in g for g in genres) >= 3 and sum("Animation" in g for g in genres) >= 3
    counts = engine.cat.counts[[engine.cat.items.index(r.item_id) for r in picks]]
    assert counts.min() >= np.median(engine.cat.counts)  # well-known titles
    assert len(engine.onboarding([], k=8)) == 8
    with pytest.raises(ValueError, match="unknown genre 'Opera'.*valid genres: .*Comedy"):
        engine.onboarding(["Opera"])


def test_similar_stays_in_cluster_and_filters_domain(engine: Engine) -> None:
    sims = engine.similar("i0", k=8)
    assert "i0" not in [r.item_id for r in sims]
    assert sum(block(r.item_id) == 0 for r in sims) >= 7
    assert sims[0].explanation.text == "Similar to Item 0"
    tv = engine.similar("i0", k=5, domain="tv")
    assert tv and all(r.domain == "tv" for r in tv)
    with pytest.raises(UnknownIdError, match="'zzz'"):
        engine.similar("zzz")
    with pytest.raises(ValueError, match="domain"):
        engine.similar("i0", domain="books")
    with pytest.raises(ValueError, match="k must be"):
        engine.similar("i0", k=0)


def test_similar_falls_back_to_genres(small_engine: Engine) -> None:
    assert small_engine.similar("matrix", k=1)[0].item_id == "matrix2"


def test_genres_and_explain_unknown(engine: Engine) -> None:
    assert "Horror" in engine.genres() and engine.genres() == sorted(engine.genres())
    with pytest.raises(UnknownIdError, match="'nope'"):
        engine.explain(UserState(), "nope")
