"""LightGCN: the contract, plus known answers for the graph, the loss, negatives and fold-in."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import cinesync.models.neural.lightgcn  # noqa: F401  (registers "lightgcn")
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError
from cinesync.models import FitContext, create
from cinesync.models.neural.lightgcn import LightGCN, build_graph, is_positive, normalised
from cinesync.testing.contract import RecommenderContract, planted_split

FAST = {"epochs": 15, "dim": 16, "layers": 2, "lr": 0.05, "batch_size": 1024, "patience": None}


class TestLightGCN(RecommenderContract):
    name = "lightgcn"
    config = FAST


class TestLightGCNFreeUsers(RecommenderContract):
    name = "lightgcn"
    config = {**FAST, "user_ego": "free"}


def test_normalised_hand_case() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0]], np.float32))
    norm, mean = normalised(x, np.array([1, 2, 0]))
    expect = np.array([[1 / math.sqrt(2 * 1), 1 / math.sqrt(2 * 2), 0], [0, 1 / math.sqrt(1 * 2), 0]])
    np.testing.assert_allclose(norm.toarray(), expect, rtol=1e-6)
    np.testing.assert_allclose(mean.toarray(), [[0.5, 0.5, 0], [0, 1, 0]])


def _model(r: np.ndarray, item_emb: np.ndarray, layers: int, reg: float = 0.0) -> LightGCN:
    model = LightGCN(dim=item_emb.shape[1], layers=layers, reg=reg)
    model.dims_ = {"n_users": r.shape[0], "n_items": r.shape[1]}
    model.module_ = model._build(model.dims_)
    with torch.no_grad():
        model.module_.item_emb.copy_(torch.from_numpy(item_emb))
    model._graph = build_graph(sp.csr_matrix(r), "cpu")
    return model


def test_loss_hand_case() -> None:
    """One user with item 0 of 2, K=1: user = [1, 0]; items = [[1, 0], [0, 0.5]]; triple (0, 0, 1)."""
    model = _model(np.array([[1.0, 0.0]]), np.eye(2, dtype=np.float32), layers=1, reg=0.1)
    batch = tuple(torch.tensor([v]) for v in (0, 0, 1))
    loss = model._loss(model.module_, batch)
    # BPR: -log sigmoid(1 - 0); L2: 0.1 / 2 * (|u0|^2 + |p0|^2 + |n0|^2) = 0.05 * 3
    assert float(loss) == pytest.approx(math.log1p(math.exp(-1.0)) + 0.15, rel=1e-6)


def test_propagation_matches_dense_reference() -> None:
    """Layer mean of E_{k+1} = A E_k with A = [[0, Rn], [Rn.T, 0]], users_0 = mean of their items."""
    rng = np.random.default_rng(0)
    r = (rng.random((5, 7)) < 0.4).astype(np.float32)
    r[0] = 0  # a user without items
    emb = rng.normal(size=(7, 3)).astype(np.float32)
    model = _model(r, emb, layers=3)
    du, di = np.maximum(r.sum(1), 1), np.maximum(r.sum(0), 1)
    rn = r / np.sqrt(du[:, None] * di[None, :])
    adj = np.block([[np.zeros((5, 5)), rn], [rn.T, np.zeros((7, 7))]])
    e = np.vstack([r / du[:, None] @ emb, emb])
    layers = [e]
    for _ in range(3):
        layers.append(adj @ layers[-1])
    expect = np.mean(layers, axis=0)
    got = torch.stack(model.module_.propagate(model._graph)).mean(0).detach().numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)


def test_fold_in_equals_training_users_exactly() -> None:
    """user_ego="history": scoring a training history reproduces the trained graph's user."""
    train, _ = planted_split()
    model = create("lightgcn", {**FAST, "epochs": 2}).fit(train, FitContext(seed=0))
    with torch.no_grad():
        layers = model.module_.propagate(build_graph(train.csr(), "cpu"))
        final = torch.stack(layers).mean(0).numpy()
    users, items = final[:train.n_users], final[train.n_users:]
    np.testing.assert_allclose(model.score(train.histories()), users @ items.T, rtol=1e-4, atol=1e-5)


def test_scoring_uses_the_cache_and_ignores_user_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    train, _ = planted_split()
    model = create("lightgcn", {**FAST, "epochs": 2}).fit(train, FitContext(seed=0))
    monkeypatch.setattr(model.module_, "propagate", lambda g: pytest.fail("scoring propagated"))
    known = train.histories(np.arange(10))
    unknown = HistoryBatch(known.indptr, known.items, np.full(10, -1, np.int32))
    np.testing.assert_array_equal(model.score(known), model.score(unknown))
    empty = model.score(HistoryBatch.empty(2))
    np.testing.assert_allclose(empty[0], (model.cache_["user_mean"] @ model.cache_["item_final"].T).numpy(),
                               rtol=1e-5, atol=1e-7)


def test_is_positive() -> None:
    keys = np.array([2, 5, 9])
    np.testing.assert_array_equal(is_positive(keys, np.array([0, 2, 6, 9, 10])), [False, True, False, True, False])


@pytest.mark.parametrize("bad", [{"layers": -1}, {"dim": 0}, {"user_ego": "id"}, {"reg": -1.0}])
def test_bad_config(bad: dict) -> None:
    with pytest.raises(ConfigError):
        create("lightgcn", bad)


@pytest.mark.parametrize("resample", [True, False])
def test_negatives_avoid_positives_when_resampling(resample: bool) -> None:
    """Every training pair appears once per epoch as (user, positive); with ``resample`` no drawn
    negative is one of the user's positives (30 % density: a miss after 10 redraws ~ 1e-6 each);
    without it, about 30 % are."""
    rng = np.random.default_rng(0)
    r = sp.csr_matrix((rng.random((40, 30)) < 0.3).astype(np.float32))
    model = LightGCN(dim=4, layers=1, resample=resample, batch_size=64)
    model._train_csr = r
    shape_only = type("Shape", (), {"n_items": r.shape[1]})()  # _batches reads n_items only
    batches = model._batches(shape_only, torch.device("cpu"))(np.random.default_rng(1))
    u, p, n = (np.array(torch.cat(parts).numpy()) for parts in zip(*batches, strict=True))
    pairs = sorted(zip(u.tolist(), p.tolist(), strict=True))
    assert pairs == sorted(zip(*(a.tolist() for a in r.nonzero()), strict=True))
    hit = r.toarray()[u, n] > 0
    if resample:
        assert not hit.any()
    else:
        assert 0.15 < hit.mean() < 0.45
