"""A fit leaves the process as it found it: torch's random state and thread count are scoped to it."""

from __future__ import annotations

import torch

from cinesync.models import FitContext, create
from cinesync.testing.contract import planted_split
from cinesync.training.runtime import available_cores, seeded, torch_threads


def test_seeded_restores_the_callers_random_stream() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)  # the caller's stream continues as if nothing happened
    with seeded(7):
        assert torch.equal(torch.rand(3), inside)  # and the block is reproducible


def test_torch_threads_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with torch_threads(1) as n:
        assert n == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None) as n:
        assert n == max(before, available_cores())
    assert torch.get_num_threads() == before


def test_fitting_a_neural_model_changes_no_global_state() -> None:
    train, _ = planted_split()
    before_threads = torch.get_num_threads()
    torch.manual_seed(99)
    state = torch.get_rng_state()
    a = create("multvae", epochs=2, hidden=[], latent=16).fit(train, FitContext(seed=3, threads=1))
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == before_threads
    b = create("multvae", epochs=2, hidden=[], latent=16).fit(train, FitContext(seed=3, threads=1))
    batch = train.histories()
    assert torch.equal(torch.from_numpy(a.score(batch)), torch.from_numpy(b.score(batch)))
