"""Fixtures for the engine tests: planted data with genres/runtimes (see helpers.py), EASE, an Engine."""

from __future__ import annotations

import pytest

from cinesync.data.dataset import Interactions
from cinesync.models.ease import EASE
from cinesync.serving.engine.engine import Engine

from .helpers import NOON, make_rich


@pytest.fixture(scope="session")
def rich_data() -> Interactions:
    return make_rich()


@pytest.fixture(scope="session")
def ease_model(rich_data: Interactions) -> EASE:
    return EASE({"l2": 10.0}).fit(rich_data)


@pytest.fixture(scope="session")
def engine(ease_model: EASE, rich_data: Interactions) -> Engine:
    return Engine(ease_model, rich_data, clock=lambda: NOON)
