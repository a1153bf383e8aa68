"""Shared fixtures: tiny synthetic data with known structure."""

from __future__ import annotations

import pytest

from cinesync.data.synthetic import planted


@pytest.fixture(scope="session")
def planted_data():
    """200 users in 4 clusters over 100 items (see cinesync.data.synthetic.planted)."""
    return planted()
