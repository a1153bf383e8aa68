"""Latency of the engine's history -> explained top-k path (what ``benchmarks.bench_serve`` reports).

Wall-clock percentiles over ``n`` calls after 5 warm-ups, plus the calling thread's CPU time
(robust to other processes competing for the cores) and the model's own ``score`` call alone,
so the engine's overhead can be told apart from the model's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from cinesync.data.dataset import Interactions
from cinesync.data.history import UserState
from cinesync.serving.engine.schemas import Context, RecRequest

if TYPE_CHECKING:
    from cinesync.serving.engine.engine import Engine


def benchmark_state(data: Interactions, n_history: int = 50) -> UserState:
    """A ``n_history``-item history: the first events of the first user who has that many."""
    hb = data.histories()
    lens = hb.lengths
    u = int(np.flatnonzero(lens >= n_history)[0]) if (lens >= n_history).any() else int(np.argmax(lens))
    row = hb.row(u)[:n_history]
    start = int(hb.indptr[u])
    rats = [None] * len(row) if hb.ratings is None else hb.ratings[start: start + len(row)].tolist()
    return UserState(history=tuple(data.items.ids_of(row)), ratings=tuple(rats),
                     timestamps=tuple(float(t) for t in range(len(row))))


def time_recommend(engine: Engine, n: int = 200, state: UserState | None = None,
                   req: RecRequest | None = None) -> dict[str, float]:
    """Latency of ``engine.recommend`` (k=10, with explanations) for a 50-item history by default.

    Returns p50_ms, p95_ms, mean_ms (wall clock), cpu_p50_ms (this thread's CPU time),
    score_p50_ms (``model.score`` alone), n and history_len.
    """
    state = state or benchmark_state(engine.data)
    req = req or RecRequest(k=10, context=Context(hour=20, weekday=4))
    for _ in range(5):
        engine.recommend(state, req)
    wall, cpu = np.empty(n), np.empty(n)
    for j in range(n):
        c0, t0 = time.thread_time(), time.perf_counter()
        engine.recommend(state, req)
        wall[j], cpu[j] = time.perf_counter() - t0, time.thread_time() - c0
    batch = engine.resolve_history(state).batch
    score = np.zeros(1)
    if batch is not None:
        score = np.empty(n)
        for j in range(n):
            t0 = time.perf_counter()
            engine.model.score(batch)
            score[j] = time.perf_counter() - t0
    ms = wall * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "cpu_p50_ms": float(np.percentile(cpu, 50) * 1000.0),
            "score_p50_ms": float(np.percentile(score, 50) * 1000.0), "n": float(n),
            "history_len": float(len(state.history))}
