"""Mult-VAE / Mult-DAE: the contract plus known-answer checks of the loss, the KL schedule and shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import cinesync.models.neural.multvae  # noqa: F401  (registers "multvae")
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError
from cinesync.models import FitContext, create
from cinesync.models.neural.multvae import MultVAE, multvae_loss
from cinesync.testing.contract import RecommenderContract, planted_split

FAST = {"epochs": 10, "hidden": [32], "latent": 16, "batch_size": 32, "lr": 1e-2, "dropout": 0.2,
        "patience": None}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Fit single-threaded: on these tiny matrices thread hand-offs cost more than they save
    (20-40x slower on a busy 2-core machine), and ``TorchRecommender`` raises torch to every core."""
    import cinesync.training.runtime as runtime

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime, "available_cores", lambda: 1)
        yield
    torch.set_num_threads(before)


class TestMultVAE(RecommenderContract):
    name = "multvae"
    config = FAST


class TestMultDAE(RecommenderContract):
    name = "multvae"
    config = {**FAST, "variational": False}


def test_loss_known_value() -> None:
    """Uniform logits over 4 items, 2 items seen: NLL = 2 log 4; KL of N(mu, 1) = |mu|^2 / 2."""
    logits = torch.zeros(1, 4)
    rows, items = torch.tensor([0, 0]), torch.tensor([0, 1])
    mu, logvar = torch.tensor([[1.0, 1.0]]), torch.zeros(1, 2)
    nll = 2 * math.log(4)
    assert float(multvae_loss(logits, rows, items, mu, logvar, 0.0)) == pytest.approx(nll)
    assert float(multvae_loss(logits, rows, items, mu, logvar, 0.5)) == pytest.approx(nll + 0.5 * 1.0)
    assert float(multvae_loss(logits, rows, items, mu, None, 0.5)) == pytest.approx(nll)
    # KL of N(0, e^1) in one dimension: (e - 1 - 1) / 2
    kl = float(multvae_loss(logits, rows, items, torch.zeros(1, 1), torch.ones(1, 1), 1.0)) - nll
    assert kl == pytest.approx((math.e - 2) / 2, rel=1e-5)
    # mean over users: a second user with one item under logits favouring it
    logits2 = torch.tensor([[0.0, 0.0, 0.0, 0.0], [math.log(3.0), 0.0, 0.0, 0.0]])
    got = multvae_loss(logits2, torch.tensor([0, 0, 1]), torch.tensor([0, 1, 0]), None, None, 0.0)
    assert float(got) == pytest.approx((nll - math.log(0.5)) / 2)


@pytest.fixture(scope="module")
def annealed() -> MultVAE:
    """A fast VAE whose beta reaches its cap (0.2) after 10 steps."""
    return create("multvae", {**FAST, "anneal_steps": 10, "beta_max": 0.2}).fit(planted_split()[0], FitContext(seed=0))


def test_beta_anneals_linearly_to_cap(annealed: MultVAE) -> None:
    assert [annealed.beta(s) for s in (0, 5, 10, 50)] == pytest.approx([0.0, 0.1, 0.2, 0.2])
    # 200 users / 32 per batch = 7 steps an epoch, counted on the module
    assert int(annealed.module_.steps) == 7 * FAST["epochs"]


def test_default_anneal_spans_the_run() -> None:
    model = create("multvae", {**FAST, "epochs": 3}).fit(planted_split()[0], FitContext(seed=0))
    assert model.beta(3 * 7) == pytest.approx(model.config.beta_max)
    assert model.beta(7) == pytest.approx(model.config.beta_max / 3)


def dense_reference(mod: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """The paper's dense formula: decoder(mu) of encoder(x / ||x||) with W_in = ``item_in.weight``."""
    with torch.no_grad():
        x = x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
        h = mod.encoder(x @ mod.item_in.weight + mod.in_bias)
        return mod.decoder(h[:, : mod.latent]).numpy()


def test_empty_history_is_decoded_zero_input(annealed: MultVAE) -> None:
    want = dense_reference(annealed.module_.eval(), torch.zeros(1, annealed.n_items_))
    got = annealed.score(HistoryBatch.empty(2))
    np.testing.assert_allclose(got, np.repeat(want, 2, axis=0), rtol=1e-5, atol=1e-6)


def test_scores_are_decoded_mu(annealed: MultVAE) -> None:
    """score() = decoder(mu) of the L2-normalised history (no sampling, no dropout); repeats count once."""
    batch = HistoryBatch.from_lists([[0, 3, 7, 3], [5]])
    x = torch.zeros(2, annealed.n_items_)
    x[0, [0, 3, 7]] = 1.0
    x[1, 5] = 1.0
    want = dense_reference(annealed.module_.eval(), x)
    np.testing.assert_allclose(annealed.score(batch), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variational", [True, False])
def test_shapes_and_dae_has_no_logvar(variational: bool) -> None:
    train, _ = planted_split()
    mod = create("multvae", {**FAST, "epochs": 1, "variational": variational}).fit(train).module_
    assert mod.item_in.weight.shape == (train.n_items, 32)
    assert mod.encoder[-1][-1].out_features == (32 if variational else 16)
    assert mod.decoder[-1].out_features == train.n_items
    mu, logvar = mod.encode(torch.tensor([0, 1, 2, 5]), torch.tensor([3, 0, 1]))
    assert mu.shape == (3, 16)
    assert (logvar is None) == (not variational)


@pytest.mark.parametrize("bad", [{"hidden": [0]}, {"latent": 0}, {"dropout": 1.0}, {"beta_max": -0.1}])
def test_bad_config(bad: dict) -> None:
    with pytest.raises(ConfigError):
        create("multvae", bad)
