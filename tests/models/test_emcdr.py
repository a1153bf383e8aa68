"""EMCDR: the shared model contract, cross-domain behaviour on tiny two-domain data, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from cinesync.artifacts import load_model, save_model
from cinesync.data.crossdomain import cold_start_split
from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.experiments.crossdomain import queries, rank_model
from cinesync.models import FitContext, create
from cinesync.models.emcdr import EMCDR, zscore_blocks
from cinesync.testing.contract import RecommenderContract
from tests.fixtures.domains import two_domain

FAST = {"l2_joint": 20.0, "l2_bridge": 5.0, "factors": 4, "hidden": 16, "epochs": 50}


class TestEMCDRContract(RecommenderContract):
    name = "emcdr"
    config = FAST


@pytest.fixture(scope="module")
def split():
    return cold_start_split(two_domain(), n_test=30, n_valid=10, min_source=3, min_target=3, seed=0)


@pytest.fixture(scope="module")
def fitted(split) -> EMCDR:
    return EMCDR(FAST).fit(split.split.train, FitContext(seed=0))


def test_learns_both_mappings(fitted: EMCDR) -> None:
    assert set(fitted.bridges_) == {("movie", "tv"), ("tv", "movie")}
    assert set(fitted.mlps_) == {("movie", "tv"), ("tv", "movie")}


def test_movie_history_gives_tv_scores_that_follow_taste(split, fitted: EMCDR) -> None:
    h, t, e = queries(split, "test")
    top = rank_model(fitted.with_weights(w_joint=0.0), h, e, split.candidates, k=5)
    groups = np.asarray([int(u[1:]) % 3 for u in split.split.train.users.ids[h.users]])
    item_group = np.asarray([int(i[1:]) % 3 for i in split.split.train.items.ids])
    assert (item_group[top] == groups[:, None]).mean() > 0.8  # mapping recovers the taste group
    assert set(split.split.train.catalog.domain_codes[top.ravel()]) == {"tv"}


def test_save_load_identical_scores(split, fitted: EMCDR, tmp_path) -> None:
    h, _, _ = queries(split, "test")
    save_model(fitted, tmp_path / "m")
    loaded = load_model(tmp_path / "m")[0]
    assert isinstance(loaded, EMCDR) and loaded.config == fitted.config
    np.testing.assert_array_equal(loaded.score(h), fitted.score(h))
    for k in ("joint", "bridge", "latent"):
        np.testing.assert_array_equal(loaded.components(h)[k], fitted.components(h)[k])


def test_reuses_a_matching_joint_model(split) -> None:
    train = split.split.train
    joint = create("ease", {"l2": 20.0}).fit(train)
    m = EMCDR(FAST).fit(train, FitContext(seed=0, joint=joint))
    assert m.joint_ is joint
    other = EMCDR({**FAST, "l2_joint": 30.0}).fit(train, FitContext(seed=0, joint=joint))
    assert other.joint_ is not joint and other.joint_.config.l2 == 30.0


def test_single_domain_degrades_to_joint_scorer() -> None:
    data = two_domain()
    movies = data.with_rows(data.catalog.domain_codes[data.item] == "movie").reindexed()
    m = EMCDR(FAST).fit(movies, FitContext(seed=0))
    assert not m.bridges_ and not m.mlps_
    batch = movies.histories(np.arange(10))
    np.testing.assert_allclose(m.score(batch), m.joint_.score(batch), rtol=1e-4, atol=1e-5)  # exactly its EASE


def test_no_overlap_means_no_mapping() -> None:
    data = two_domain(overlap=False)
    dom = data.catalog.domain_codes[data.item]
    odd = np.asarray([int(u[1:]) % 2 == 1 for u in data.users.ids])[data.user]
    no_overlap: Interactions = data.with_rows(~(odd & (dom == "tv")) & ~(~odd & (dom == "movie")))
    m = EMCDR(FAST).fit(no_overlap, FitContext(seed=0))
    assert not m.bridges_
    assert np.isfinite(m.score(HistoryBatch.from_lists([[0, 1]]))).all()


def test_zscore_blocks_per_domain() -> None:
    s = np.array([[1.0, 2.0, 3.0, 10.0, 10.0]], np.float32)
    z = zscore_blocks(s, np.array([0, 0, 0, 1, 1], np.int8))
    np.testing.assert_allclose(z[0, :3], [-1.2247449, 0.0, 1.2247449], rtol=1e-5)
    np.testing.assert_array_equal(z[0, 3:], [0.0, 0.0])  # constant block -> 0
