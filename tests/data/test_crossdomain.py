"""Cross-domain protocols: no target-domain leakage, disjoint user sets, target-only ranking, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cinesync.data.crossdomain import cold_start_split, make_split, warm_split
from cinesync.data.dataset import Interactions
from cinesync.errors import ConfigError, DataError
from cinesync.experiments.crossdomain import queries, rank_model
from cinesync.models import FitContext, create
from tests.fixtures.domains import two_domain


@pytest.fixture(scope="module")
def data() -> Interactions:
    return two_domain()


def _domain_of_rows(part: Interactions) -> np.ndarray:
    return part.catalog.domain_codes[part.item]


def test_cold_start_hides_all_target_items(data: Interactions) -> None:
    cds = cold_start_split(data, "movie", "tv", n_test=20, n_valid=10, min_source=3, min_target=3, seed=1)
    s = cds.split
    for users, part in ((cds.test_users, s.test), (cds.valid_users, s.valid)):
        held = np.isin(s.train.user, users)
        # none of their TV (or other) items is in train; all their movies are
        assert set(_domain_of_rows(s.train)[held]) == {"movie"}
        orig = np.isin(data.user, users)
        assert held.sum() == (orig & (data.catalog.domain_codes[data.item] == "movie")).sum()
        # every TV row of theirs is a target, nothing else is
        assert set(_domain_of_rows(part)) == {"tv"}
        assert len(part) == (orig & (data.catalog.domain_codes[data.item] == "tv")).sum()
    assert not np.isin(s.valid.user, cds.test_users).any()
    assert not np.isin(s.test.user, cds.valid_users).any()
    assert len(np.intersect1d(cds.test_users, cds.valid_users)) == 0
    # training users keep everything, other domain included
    rest = ~np.isin(data.user, np.concatenate([cds.test_users, cds.valid_users]))
    assert (~np.isin(s.train.user, np.concatenate([cds.test_users, cds.valid_users]))).sum() == rest.sum()
    assert "other" in set(_domain_of_rows(s.train))


def test_cold_start_is_seeded(data: Interactions) -> None:
    a = cold_start_split(data, n_test=20, n_valid=10, min_source=3, min_target=3, seed=3)
    b = cold_start_split(data, n_test=20, n_valid=10, min_source=3, min_target=3, seed=3)
    c = cold_start_split(data, n_test=20, n_valid=10, min_source=3, min_target=3, seed=4)
    np.testing.assert_array_equal(a.test_users, b.test_users)
    assert not np.array_equal(a.test_users, c.test_users)


def test_reverse_direction_targets_movies(data: Interactions) -> None:
    cds = make_split(data, "tv-movie", n_test=15, n_valid=10, min_source=3, min_target=3)
    assert set(_domain_of_rows(cds.split.test)) == {"movie"}
    assert set(_domain_of_rows(cds.split.train)[np.isin(cds.split.train.user, cds.test_users)]) == {"tv"}
    np.testing.assert_array_equal(cds.candidates, data.catalog.domain_mask("movie"))


def test_warm_hides_a_fifth_of_tv(data: Interactions) -> None:
    cds = warm_split(data, "tv", n_test=20, n_valid=10, min_target=5, hide_frac=0.2, seed=0)
    s = cds.split
    assert set(_domain_of_rows(s.test)) == {"tv"}
    tv_all = np.bincount(data.user[data.catalog.domain_codes[data.item] == "tv"], minlength=data.n_users)
    hidden = s.test.user_counts()[cds.test_users]
    np.testing.assert_array_equal(hidden, np.clip(np.rint(0.2 * tv_all[cds.test_users]), 1, None))
    # the hidden pairs are not in train; the kept TV items and other domains are
    train_pairs = set(zip(s.train.user.tolist(), s.train.item.tolist(), strict=True))
    assert not train_pairs & set(zip(s.test.user.tolist(), s.test.item.tolist(), strict=True))
    kept = s.train.with_rows(np.isin(s.train.user, cds.test_users))
    assert {"movie", "tv"} <= set(_domain_of_rows(kept))


def test_only_target_items_are_ranked(data: Interactions) -> None:
    cds = cold_start_split(data, n_test=20, n_valid=10, min_source=3, min_target=3)
    model = create("ease", {"l2": 10.0}).fit(cds.split.train, FitContext())
    h, t, e = queries(cds, "test")
    top = rank_model(model, h, e, cds.candidates, k=10)
    assert (top >= 0).all()
    assert set(data.catalog.domain_codes[top.ravel()]) == {"tv"}


def test_bad_input_errors(data: Interactions) -> None:
    with pytest.raises(ConfigError, match="domain must be one of"):
        cold_start_split(data, "film", "tv")
    with pytest.raises(ConfigError, match="must differ"):
        cold_start_split(data, "tv", "tv")
    with pytest.raises(ConfigError, match="unknown cross-domain protocol"):
        make_split(data, "movie-anime")
    with pytest.raises(ConfigError, match="hide_frac"):
        warm_split(data, hide_frac=1.5)
    no_overlap = two_domain(overlap=False)
    movie_users = np.unique(no_overlap.user[no_overlap.catalog.domain_codes[no_overlap.item] == "movie"])
    assert len(movie_users) > 0
    with pytest.raises(DataError, match="overlapping users"):
        cold_start_split(no_overlap.with_rows(~np.isin(no_overlap.user, np.arange(0, no_overlap.n_users, 2))))
    movies_only = Interactions.from_frame(
        pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"], "rating": [5.0, 6.0]}),
        catalog=pd.DataFrame({"item_id": ["x", "y"], "domain": ["movie", "movie"]}))
    with pytest.raises(DataError, match="no items of the target domain 'tv'"):
        cold_start_split(movies_only)


def test_min_rating_drops_low_ratings(data: Interactions) -> None:
    cds = cold_start_split(data, n_test=10, n_valid=5, min_source=2, min_target=2, min_rating=6)
    for part in (cds.split.train, cds.split.valid, cds.split.test):
        assert part.rating.min() >= 6
