"""The open-loop load generator behind ``benchmarks.bench_serve``, against a real server (small and quick)."""

from __future__ import annotations

import asyncio

import numpy as np

from benchmarks import loadtest
from cinesync.serving.settings import Settings
from tests.serving.http.conftest import build_app, running


def test_open_loop_against_a_real_server(settings: Settings) -> None:
    with running(build_app(settings)) as base:
        reqs = loadtest.prepare_users(base, 3, ratings_each=4, k=5)
        assert len(reqs) == 3 and all(p.endswith("/recommendations?k=5") for p, _ in reqs)
        loadtest.warm(base, reqs)
        result = asyncio.run(loadtest.open_loop(base, reqs, rate=60, duration=1.0, timeout=5))
        bad = asyncio.run(loadtest.open_loop(base, [("/v1/users/x/recommendations", {})], rate=20, duration=0.5))
    assert (result.sent, result.ok, result.n_errors) == (60, 60, 0)
    assert result.cache == {"hit": 60}  # every user was warmed
    p = result.percentiles()
    assert 0 < p["p50"] <= p["p95"] <= p["p99"] <= p["max"] < 5000
    assert 40 < result.throughput < 80 and np.isfinite(result.latencies_ms).all()
    assert bad.ok == 0 and bad.errors == {"HTTP 401": 10}
