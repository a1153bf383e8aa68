"""Tiny synthetic splits and fitted members for the ensemble tests."""

from __future__ import annotations

import numpy as np
import pytest

from cinesync.data.splits import leave_last_out, ratio
from cinesync.data.synthetic import planted
from cinesync.models import create
from cinesync.ranking.candidates import masked


@pytest.fixture(scope="session")
def loo_split():
    """Planted data (200 users x 100 items), leave-last-one-out."""
    return leave_last_out(planted())


@pytest.fixture(scope="session")
def ratio_split():
    return ratio(planted(), seed=0)


def fit_members(split, names=("itemknn", "ease", "pop")):
    return [create(n).fit(split.train) for n in names]


@pytest.fixture(scope="session")
def valid_scores(loo_split):
    """(history, targets, [masked member scores]) of the loo valid queries."""
    hist, targets, exclude, _ = loo_split.valid_queries()
    members = fit_members(loo_split)
    return hist, targets, [masked(m.score(hist), exclude) for m in members]


def planted_scores(n: int = 30, m: int = 40, seed: int = 0):
    """(targets-dense (n, m) bool, good (n, m) scores that find targets, noise (n, m) scores)."""
    rng = np.random.default_rng(seed)
    targets = np.zeros((n, m), bool)
    for u in range(n):
        targets[u, rng.choice(m, 3, replace=False)] = True
    good = rng.normal(size=(n, m)) + 3.0 * targets
    noise = rng.normal(size=(n, m))
    return targets, good.astype(np.float32), noise.astype(np.float32)
