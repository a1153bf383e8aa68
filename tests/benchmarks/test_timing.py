"""``benchmarks.timing``: latency percentiles of the engine path (small and quick)."""

from __future__ import annotations

from benchmarks.timing import benchmark_state, time_recommend

from cinesync.models.ease import EASE
from cinesync.serving.engine.engine import Engine
from tests.serving.engine.helpers import NOON, make_rich


def test_time_recommend_reports_percentiles() -> None:
    data = make_rich()
    engine = Engine(EASE({"l2": 10.0}).fit(data), data, clock=lambda: NOON)
    t = time_recommend(engine, n=5)
    assert 0 < t["p50_ms"] <= t["p95_ms"] and t["history_len"] > 0
    assert t["score_p50_ms"] > 0 and t["n"] == 5
    state = benchmark_state(data, n_history=3)
    assert len(state.history) == 3 and state.timestamps == (0.0, 1.0, 2.0)
