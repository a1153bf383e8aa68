"""Content model: the shared contract on planted data whose items carry text, plus known-answer checks.

The planted data (``cinesync.data.synthetic.planted``) has no text (titles "Item i", genres "g0".."g3"),
so a content model could not find its structure. ``text_planted_split`` gives the same interactions a
catalogue in which each planted block is one film genre with its own vocabulary (different titles
and plots per item); the contract's planted-structure check then runs on that data.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache

import numpy as np
import pytest

from cinesync.data.dataset import Interactions, ItemCatalog
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError, NotFittedError
from cinesync.models import FitContext, Recommender, create
from cinesync.models.content import ContentRecommender, history_weights
from cinesync.ranking import recommend
from cinesync.testing.contract import RecommenderContract, hit_rate, planted_split

#: one embedding cache for the whole test session (texts are encoded once)
CACHE = tempfile.mkdtemp(prefix="cinesync-test-embeddings-")
atexit.register(shutil.rmtree, CACHE, ignore_errors=True)

THEMES = [
    ("Science Fiction", "astronauts", ["a distant planet", "an alien starship", "a space station", "a wormhole",
                                       "a robot uprising", "a galactic empire", "a time machine"]),
    ("Romance", "two lovers", ["a summer wedding", "a first date in Paris", "a long-distance love affair",
                               "a broken engagement", "a love letter", "a chance meeting", "a honeymoon"]),
    ("Horror", "a frightened family", ["a haunted house", "a demonic possession", "a masked killer",
                                       "a cursed doll", "a graveyard at midnight", "vampires", "a ghost"]),
    ("Animation", "a talking animal", ["a magical forest adventure", "a cartoon kingdom", "a toy that comes alive",
                                       "a friendly dragon", "a colourful musical", "a lost puppy", "fairy tales"]),
]


def blocks() -> np.ndarray:
    """(n_items,) planted block of every item index (from its planted genre "g<block>")."""
    train, _ = planted_split()
    return np.array([int(g[0][1:]) for g in train.catalog.column("genres")])


@lru_cache(maxsize=1)
def text_planted_split() -> tuple[Interactions, np.ndarray]:
    """``planted_split()`` with a catalogue whose text follows the planted blocks (see module docstring)."""
    train, target = planted_split()
    frame = train.catalog.frame.drop(columns=["item_id"])
    block = blocks()
    genres, overviews = [], []
    for i, b in enumerate(block):
        genre, who, things = THEMES[b]
        thing = things[(i // 4) % len(things)]
        genres.append((genre,))
        overviews.append(f"{who.capitalize()} face {thing} in this {genre.lower()} film, part {i // 28 + 1}.")
    frame["genres"] = genres
    frame["overview"] = overviews
    catalog = ItemCatalog(train.items, frame)
    data = Interactions(train.users, train.items, train.user, train.item, train.rating, train.timestamp,
                        catalog, name="planted-text-train")
    return data, target


class ContentContract(RecommenderContract):
    """The contract with every fit on ``text_planted_split`` (same interactions, item text added)."""

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> Recommender:
        train, _ = text_planted_split()
        return cls.make().fit(train, FitContext(seed=0))

    def test_fit_returns_self(self) -> None:
        train, _ = text_planted_split()
        model = self.make()
        assert model.fit(train, FitContext(seed=0)) is model

    def test_deterministic(self, fitted: Recommender, queries: dict) -> None:
        train, _ = text_planted_split()
        again = self.make().fit(train, FitContext(seed=0))
        top_a, _ = recommend(fitted.score(queries["known"]), 10)
        top_b, _ = recommend(again.score(queries["known"]), 10)
        np.testing.assert_array_equal(top_a, top_b)

    def test_beats_popularity(self, fitted: Recommender) -> None:
        train, target = text_planted_split()
        hr = hit_rate(fitted, train, target)
        pop_hr = hit_rate(create("pop").fit(train), train, target)
        assert hr > pop_hr + self.margin, f"{self.name} HR@10 {hr:.3f} vs pop {pop_hr:.3f}"


class TestContent(ContentContract):
    name = "content"
    config = {"cache_dir": CACHE}


# ---- known answers ------------------------------------------------------------------
@pytest.fixture(scope="module")
def content() -> ContentRecommender:
    train, _ = text_planted_split()
    return ContentRecommender(cache_dir=CACHE, rating_weight="none", popularity_weight=0.0).fit(train)


def test_profile_is_the_normalised_mean_embedding(content: ContentRecommender) -> None:
    e = content.item_embeddings_
    assert e.shape == (100, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    scores = content.score(HistoryBatch.from_lists([[3, 7, 11]]))[0]
    p = e[[3, 7, 11]].mean(axis=0)
    np.testing.assert_allclose(scores, e @ (p / np.linalg.norm(p)), atol=1e-5)


def test_item_without_interactions_is_scored(content: ContentRecommender) -> None:
    """Item cold start: an item nobody interacted with scores by its text alone."""
    train, _ = text_planted_split()
    unseen = np.flatnonzero(train.item_counts() == 0)
    cold = unseen[0] if len(unseen) else 0
    keep = train.item != cold
    model = ContentRecommender(cache_dir=CACHE, popularity_weight=0.0).fit(train.with_rows(keep))
    blk = blocks()
    same_block = [int(i) for i in np.flatnonzero(blk == blk[cold]) if i != cold][:5]
    top, _ = recommend(model.score(HistoryBatch.from_lists([same_block])), 10,
                       exclude=HistoryBatch.from_lists([same_block]).to_csr(100))
    assert cold in top[0]
    assert (blk[top[0]] == blk[cold]).all()


def test_history_weights() -> None:
    b = HistoryBatch.from_lists([[0, 1, 2], [3], [4, 5]], ratings=[[5.0, 3.0, 1.0], [2.0], [4.0, 4.0]])
    np.testing.assert_allclose(history_weights(b, "centered", None), [2.0, 0.0, -2.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(history_weights(b, "liked", None), [1.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(history_weights(b, "none", 1.0), [0.25, 0.5, 1.0, 1.0, 0.5, 1.0])


def test_disliked_items_push_the_profile_away(content: ContentRecommender) -> None:
    train, _ = text_planted_split()
    model = ContentRecommender(cache_dir=CACHE, rating_weight="centered", popularity_weight=0.0).fit(train)
    blk = blocks()
    b0, b1 = np.flatnonzero(blk == 0), np.flatnonzero(blk == 1)
    hist = [int(b0[0]), int(b0[1]), int(b1[0]), int(b1[1])]
    b = HistoryBatch.from_lists([hist], ratings=[[5.0, 5.0, 1.0, 1.0]])  # loves block 0, hates block 1
    s = model.score(b)[0]
    assert s[b0].mean() > 0 > s[b1].mean()


def test_similar_items_by_cosine(content: ContentRecommender) -> None:
    blk = blocks()
    idx, sims = content.similar(8, k=5)
    assert 8 not in idx and (blk[idx] == blk[8]).all()
    assert np.all(np.diff(sims) <= 1e-7)
    e = content.item_embeddings_
    np.testing.assert_allclose(sims, e[idx] @ e[8], atol=1e-6)
    with pytest.raises(NotFittedError):
        ContentRecommender().similar(0)


def test_serving_similar_titles_use_the_content_cosine(content: ContentRecommender) -> None:
    from cinesync.serving.engine.contrib import VectorSource, contribution_source

    src = contribution_source(content, content.n_items_)
    assert isinstance(src, VectorSource)
    np.testing.assert_allclose(src.neighbours(8), content.item_embeddings_ @ content.item_embeddings_[8], atol=1e-6)


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="fields"):
        ContentRecommender(fields=["plot"])
    with pytest.raises(ConfigError, match="fields"):
        ContentRecommender(fields=[])


def test_missing_model_folder(tmp_path) -> None:
    train, _ = text_planted_split()
    with pytest.raises(ConfigError, match="does not exist"):
        ContentRecommender(model_path=str(tmp_path / "nope"), cache_dir=str(tmp_path)).fit(train)


def test_popularity_prior_learns_from_text_and_ignores_unseen_items() -> None:
    from cinesync.models.content import popularity_prior

    rng = np.random.default_rng(0)
    e = rng.normal(size=(60, 8))
    counts = np.round(np.exp(2.0 * e[:, 0] + 2.0)).astype(np.int64)  # popularity follows dimension 0
    counts[50:] = 0  # unseen items: not used in the fit, but still get a prediction
    prior = popularity_prior(e, counts, l2=1.0)
    assert prior.shape == (60,) and prior.dtype == np.float32
    assert abs(prior.mean()) < 1e-5 and prior.std() == pytest.approx(1.0, abs=1e-5)
    assert np.corrcoef(prior[50:], e[50:, 0])[0, 1] > 0.9
    assert not popularity_prior(e, np.zeros(60)).any()


def test_with_config_reuses_the_embeddings(content: ContentRecommender) -> None:
    b = HistoryBatch.from_lists([[1, 2, 3]])
    plus = content.with_config(popularity_weight=0.5)
    assert plus.item_embeddings_ is content.item_embeddings_ or np.array_equal(plus.item_embeddings_,
                                                                                content.item_embeddings_)
    np.testing.assert_allclose(plus.score(b) - content.score(b), 0.5 * content.prior_[None, :], atol=1e-5)
    with pytest.raises(ConfigError, match="fields"):
        content.with_config(fields=["title"])


def test_engine_similar_titles_follow_content_cosine(content: ContentRecommender) -> None:
    from cinesync.serving.engine.engine import Engine

    train, _ = text_planted_split()
    engine = Engine(content, train)
    recs = engine.similar(train.items.ids[8], k=5)
    idx, _ = content.similar(8, k=5)
    assert [r.item_id for r in recs] == [train.items.ids[i] for i in idx]
