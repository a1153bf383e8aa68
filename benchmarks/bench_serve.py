"""Benchmark (not a test) of `cinesync serve` on 127.0.0.1: GET recommendations at a fixed open-loop
rate, then a latency table (and the engine path alone).

Without --home / --database-url everything happens in a temporary home (the first start imports the
bundled data and trains EASE). With them, the bench signs up --users new users there.

    python -m benchmarks.bench_serve                         # make bench-serve
    python -m benchmarks.bench_serve --rate 400 --no-cache --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from rich.table import Table

from benchmarks import loadtest
from benchmarks.timing import time_recommend
from cinesync.cli.common import console, fail, setup_logging


def bench_serve(rate: float = 200.0, duration: float = 20.0, users: int = 20, k: int = 10, cache: bool = True,
                warmup: float = 2.0, timeout: float = 10.0, engine_n: int = 300, home: Path | None = None,
                database_url: str | None = None, port: int = 0) -> int:
    """Run the load; print the table; returns the exit code (2 when the server could not be driven)."""
    from cinesync.serving.settings import Settings, sqlite_url

    if home is None and database_url is None:
        home = Path(tempfile.mkdtemp(prefix="cinesync-bench-"))
        database_url = sqlite_url(home / "cinesync.db")  # not $CINESYNC_DATABASE_URL: never touch a real store
        console.print(f"home: {home} (temporary; first start imports the bundled data and trains EASE)")
    home = Settings.from_env(home=home, database_url=database_url).home
    load_before = os.getloadavg()[0]
    extra = ("--log-level", "warning") + (() if cache else ("--no-cache",))
    try:
        with loadtest.ServerProcess(home, port or None, database_url, extra) as server:
            console.print(f"server ready at {server.url}; preparing {users} users")
            reqs = loadtest.prepare_users(server.url, users, k=k)
            loadtest.warm(server.url, reqs)
            if warmup > 0:
                asyncio.run(loadtest.open_loop(server.url, reqs, rate, warmup, timeout))
            console.print(f"measuring: {rate:g} req/s for {duration:g}s ({int(rate * duration)} requests)")
            result = asyncio.run(loadtest.open_loop(server.url, reqs, rate, duration, timeout))
    except (RuntimeError, TimeoutError) as e:
        fail(str(e))
        return 2
    load_after = os.getloadavg()[0]
    engine_stats = _engine_timing(home, database_url, engine_n)
    _print_table(result, engine_stats, cache)
    console.print(f"machine load average (1 min): {load_before:.2f} before, {load_after:.2f} after the run "
                  f"({os.cpu_count()} CPUs; other processes compete with server and client)")
    return 0


def _engine_timing(home: Path, database_url: str | None, n: int) -> dict[str, float]:
    """Engine-only history -> top-10 latency (``timing.time_recommend``) on the served model."""
    from cinesync.serving.engine.engine import Engine
    from cinesync.serving.lifecycle import engine_snapshot, load_served_model
    from cinesync.serving.settings import Settings
    from cinesync.store import repo
    from cinesync.store.db import make_engine, session_factory

    settings = Settings.from_env(home=home, database_url=database_url)
    db = make_engine(settings.database_url)
    try:
        with session_factory(db)() as s:
            model, items, _ = load_served_model(s)
            engine = Engine(model, engine_snapshot(s, items), availability=repo.availability_map(s))
    finally:
        db.dispose()
    return time_recommend(engine, n)


def _print_table(result: Any, engine_stats: dict[str, float], cache: bool) -> None:
    p = result.percentiles()
    t = Table(title=f"bench_serve: GET /v1/users/{{id}}/recommendations (cache {'on' if cache else 'off'})")
    for col in ("target req/s", "achieved req/s", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        t.add_column(col, justify="right")
    t.add_row(f"{result.target_rate:g}", f"{result.throughput:.1f}", str(result.sent), str(result.n_errors),
              f"{p['p50']:.2f}", f"{p['p95']:.2f}", f"{p['p99']:.2f}", f"{p['max']:.2f}")
    console.print(t)
    if result.errors:
        console.print(f"errors by kind: {result.errors}")
    console.print(f"cache: {result.cache}; max client send lag {result.max_send_lag_ms:.1f} ms")
    cpu = engine_stats.get("cpu_p50_ms")
    console.print(f"engine path (history of {engine_stats['history_len']:.0f} -> explained top-10, "
                  f"{engine_stats['n']:.0f} calls): p50 {engine_stats['p50_ms']:.2f} ms, "
                  f"p95 {engine_stats['p95_ms']:.2f} ms" + (f", CPU p50 {cpu:.2f} ms" if cpu is not None else ""))



def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=200.0, help="target requests per second (open loop)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of measured load (1-600)")
    ap.add_argument("--users", type=int, default=20, help="users whose lists are requested round-robin (1-1000)")
    ap.add_argument("--k", type=int, default=10, help="list length (1-100)")
    ap.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                    help="run the server with or without the recommendation cache")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load first")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in seconds")
    ap.add_argument("--engine-n", type=int, default=300, help="calls for the engine-only timing (>= 10)")
    ap.add_argument("--home", type=Path, help="state directory (default: a temporary one)")
    ap.add_argument("--database-url", help="SQLAlchemy URL of the store to bench")
    ap.add_argument("--port", type=int, default=0, help="loopback port (0 = a free one)")
    args = ap.parse_args(argv)
    checks = [(args.rate >= 1, "--rate must be >= 1"), (1 <= args.duration <= 600, "--duration must be in 1..600"),
              (1 <= args.users <= 1000, "--users must be in 1..1000"), (1 <= args.k <= 100, "--k must be in 1..100"),
              (args.warmup >= 0, "--warmup must be >= 0"), (args.timeout >= 0.1, "--timeout must be >= 0.1"),
              (args.engine_n >= 10, "--engine-n must be >= 10"), (0 <= args.port <= 65535, "--port must be a port")]
    for ok, message in checks:
        if not ok:
            ap.error(message)
    setup_logging(level="warning")
    raise SystemExit(bench_serve(args.rate, args.duration, args.users, args.k, args.cache, args.warmup,
                                 args.timeout, args.engine_n, args.home, args.database_url, args.port))


if __name__ == "__main__":
    main()
