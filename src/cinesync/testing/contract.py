"""The contract every ``Recommender`` passes (a pytest test class). A model's test is a 3-line subclass:

    from cinesync.testing.contract import RecommenderContract

    class TestEASE(RecommenderContract):
        name = "ease"
        config = {"l2": 50.0}

Data: ``cinesync.data.synthetic.planted()`` with each user's last item held out.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pytest

from cinesync.artifacts import load_model, save_model
from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.data.synthetic import planted
from cinesync.errors import ConfigError, NotFittedError
from cinesync.models import FitContext, Recommender, create, model_class
from cinesync.ranking import recommend


@lru_cache(maxsize=1)
def planted_split() -> tuple[Interactions, np.ndarray]:
    """(train, target): planted data minus each user's last item; target[u] = that item."""
    data = planted()
    order = data.order
    last = np.zeros(len(data), bool)
    ends = np.cumsum(data.user_counts()) - 1
    last[order[ends]] = True
    target = np.empty(data.n_users, np.int64)
    target[data.user[last]] = data.item[last]
    return data.with_rows(~last, name="planted-train"), target


def hit_rate(model: Recommender, train: Interactions, target: np.ndarray, k: int = 10) -> float:
    """HR@k of the held-out item when ranking everything the user has not trained on."""
    scores = model.score(train.histories())
    top, _ = recommend(scores, k, exclude=train.csr())
    return float((top == target[:, None]).any(axis=1).mean())


def with_new_item(batch: HistoryBatch, n_items: int) -> HistoryBatch:
    """``batch`` with one extra item per row that the row has not seen (rated 5 if rated)."""
    new = []
    for i in range(len(batch)):
        unseen = np.setdiff1d(np.arange(n_items), batch.row(i))
        new.append([int(unseen[(7 * i) % len(unseen)])])
    ratings = None if batch.ratings is None else [[5.0]] * len(batch)
    stamps = None if batch.timestamps is None else [[int(batch.timestamps.max()) + 1]] * len(batch)
    return batch.append(HistoryBatch.from_lists(new, batch.users, ratings, stamps))


class RecommenderContract:
    """Shared tests; subclasses set ``name`` and a small, fast ``config``."""

    name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}
    #: False for models whose scores ignore the history (pop, random)
    personalised: ClassVar[bool] = True
    #: False for floors that need not beat popularity (random)
    beats_popularity: ClassVar[bool] = True
    #: how much HR@10 must exceed MostPopular's on the planted data
    margin: ClassVar[float] = 0.3

    @classmethod
    def make(cls) -> Recommender:
        return create(cls.name, dict(cls.config))

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> Recommender:
        train, _ = planted_split()
        return cls.make().fit(train, FitContext(seed=0))

    @pytest.fixture(scope="class")
    @classmethod
    def queries(cls) -> dict[str, HistoryBatch]:
        """Known users, the same histories as unknown users, an empty and a one-item history."""
        train, _ = planted_split()
        known = train.histories(np.arange(0, train.n_users, 9))
        unknown = HistoryBatch(known.indptr, known.items, np.full(len(known), -1, np.int32),
                               known.ratings, known.timestamps)
        return {
            "known": known,
            "unknown": unknown,
            "empty": HistoryBatch.empty(3),
            "single": HistoryBatch.from_lists([[5], [17]], ratings=[[4.0], [2.0]]),
            "none": HistoryBatch.empty(0),
        }

    # ---- construction ------------------------------------------------------
    def test_registry_create(self) -> None:
        model = self.make()
        assert isinstance(model, model_class(self.name))
        assert model.name == self.name

    def test_invalid_config_key(self) -> None:
        with pytest.raises(ConfigError, match="no_such_option"):
            create(self.name, {**self.config, "no_such_option": 1})

    def test_tune_grid_is_small_and_valid(self) -> None:
        grid = model_class(self.name).tune_grid
        combos = list(itertools.product(*grid.values()))
        assert len(combos) <= 8, f"{self.name}: {len(combos)} grid points"
        for combo in combos:
            create(self.name, {**self.config, **dict(zip(grid, combo, strict=True))})

    def test_unfitted_score_raises(self) -> None:
        with pytest.raises(NotFittedError):
            self.make().score(HistoryBatch.from_lists([[0, 1]]))

    def test_fit_returns_self(self) -> None:
        train, _ = planted_split()
        model = self.make()
        assert model.fit(train, FitContext(seed=0)) is model

    # ---- scoring -------------------------------------------------------------
    @pytest.mark.parametrize("kind", ["known", "unknown", "empty", "single", "none"])
    def test_score_shape_dtype_finite(self, fitted: Recommender, queries: dict, kind: str) -> None:
        batch = queries[kind]
        scores = fitted.score(batch)
        assert scores.shape == (len(batch), fitted.n_items_)
        assert scores.dtype == np.float32
        assert np.isfinite(scores).all()

    def test_deterministic(self, fitted: Recommender, queries: dict) -> None:
        train, _ = planted_split()
        again = self.make().fit(train, FitContext(seed=0))
        top_a, _ = recommend(fitted.score(queries["known"]), 10)
        top_b, _ = recommend(again.score(queries["known"]), 10)
        np.testing.assert_array_equal(top_a, top_b)

    def test_save_load_round_trip(self, fitted: Recommender, queries: dict, tmp_path) -> None:
        save_model(fitted, tmp_path / "model")
        loaded, _ = load_model(tmp_path / "model")
        assert type(loaded) is type(fitted)
        assert loaded.config == fitted.config
        for kind in ("known", "unknown", "empty", "single"):
            np.testing.assert_array_equal(loaded.score(queries[kind]), fitted.score(queries[kind]))

    def test_new_item_counts_immediately(self, fitted: Recommender, queries: dict) -> None:
        batch = queries["unknown"]
        before = fitted.score(batch)
        after = fitted.score(with_new_item(batch, fitted.n_items_))
        changed = ~np.all(np.isclose(before, after, rtol=0, atol=1e-7), axis=1)
        if self.personalised:
            assert changed.all(), f"{changed.sum()} of {len(batch)} rows changed after a new item"
        else:
            assert not changed.any()

    # ---- quality -------------------------------------------------------------
    def test_beats_popularity(self, fitted: Recommender) -> None:
        train, target = planted_split()
        hr = hit_rate(fitted, train, target)
        pop_hr = hit_rate(create("pop").fit(train), train, target)
        if self.beats_popularity:
            assert hr > pop_hr + self.margin, f"{self.name} HR@10 {hr:.3f} vs pop {pop_hr:.3f}"
        else:  # the floors: nowhere near a model that learns the planted clusters
            best = hit_rate(create("itemknn").fit(train), train, target)
            assert hr < best - self.margin, f"floor {self.name} HR@10 {hr:.3f} vs itemknn {best:.3f}"
