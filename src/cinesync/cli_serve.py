"""`cinesync serve` (run the HTTP service) and `cinesync bench-serve` (measure it under load).

``install(app)`` adds both commands to the main command line. ``serve`` migrates the database;
on an empty one it imports the bundled ml-latest-small and trains EASE first; it makes sure a
demo user exists (id "demo", ~10 ratings of well-known films, a fresh token each start), prints
the URL and the demo credentials, then runs uvicorn.
"""

from __future__ import annotations

import gc
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # sqlalchemy is imported by the commands that use it, so `cinesync --help` stays fast
    from sqlalchemy.orm import Session, sessionmaker

from cinesync.errors import CineSyncError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
log = logging.getLogger(__name__)

DEMO_ID = "demo"
#: MovieLens movieId -> rating: well-known films, so the demo user's list is personal from the start
DEMO_RATINGS = {"318": 5.0, "858": 5.0, "2571": 4.5, "260": 4.5, "1196": 4.5, "4993": 4.0, "296": 4.0,
                "356": 4.0, "1": 4.0, "2959": 4.5, "79132": 4.5}

HomeOpt = Annotated[Path | None, typer.Option("--home", help="State directory holding cinesync.db and models/ "
                    "(default: $CINESYNC_HOME or ~/.cinesync).")]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: $CINESYNC_DATABASE_URL "
                  "or sqlite:///HOME/cinesync.db).")]


def prepare_store(factory: sessionmaker[Session], home: Path, train_model: str = "ease",
                  progress: bool = True) -> dict[str, Any]:
    """First-start work: import the bundled data into an empty store, train when nothing is served."""
    from cinesync.serving.lifecycle import train_from_store
    from cinesync.store import repo

    done: dict[str, Any] = {}
    with factory() as s:
        n_items = repo.counts(s)["items"]
        served = repo.promoted_version(s)
    if n_items == 0:
        from cinesync.data.loaders import load_dataset
        from cinesync.store.importer import import_dataset

        log.info("empty database: importing the bundled ml-latest-small")
        data = load_dataset("ml-latest-small")
        done["import"] = import_dataset(factory, data, data.name, progress=progress)
    if served is None:
        log.info("no model served yet: training %s (first start takes about a minute)", train_model)
        mv = train_from_store(factory, home, train_model, evaluate=True, progress=progress)
        done["trained"] = mv.label
    return done


def _popular_items(s: Session, n: int) -> list[str]:
    from sqlalchemy import func, select

    from cinesync.store.schema import Event, Item

    rows = s.execute(select(Item.item_id).join(Event, Event.item_pk == Item.id)
                     .where(Event.kind == "rating").group_by(Item.item_id)
                     .order_by(func.count().desc(), Item.item_id).limit(n)).all()
    return [r[0] for r in rows]


def ensure_demo_user(factory: sessionmaker[Session]) -> tuple[str, str]:
    """The demo user (created with ~10 ratings if missing) and a fresh token for it: (user id, token)."""
    import secrets

    from sqlalchemy import select

    from cinesync.errors import UnknownIdError
    from cinesync.store import repo
    from cinesync.store.schema import Item

    with factory.begin() as s:
        try:
            user = repo.get_user(s, DEMO_ID)
            token = secrets.token_urlsafe(32)
            user.token_hash = repo.hash_token(token)  # a new token each start; only its hash is stored
        except UnknownIdError:
            user, token = repo.create_user(s, display_name="Demo", external_id=DEMO_ID)
            known = {i for (i,) in s.execute(select(Item.item_id).where(Item.item_id.in_(DEMO_RATINGS)))}
            ratings = {i: r for i, r in DEMO_RATINGS.items() if i in known}
            if len(ratings) < 5:  # not MovieLens: rate the most popular titles instead
                ratings = {i: 4.5 for i in _popular_items(s, 10)}
            for ts, (item, rating) in enumerate(ratings.items()):
                repo.add_event(s, user, item, "rating", rating, ts=1_700_000_000.0 + ts)
    return DEMO_ID, token


def _logging(level: str) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(level=level.upper(), format="%(message)s", datefmt="[%X]",
                        handlers=[RichHandler(console=err_console, show_path=False)], force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8000,
    home: HomeOpt = None, database_url: DbOpt = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug | info | warning | error "
                         "(warning and above also silence the per-request access log).")] = "info",
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Cache recommendation lists (invalidated "
                     "by every write of the user).")] = True,
) -> None:
    """Run the HTTP service (API, docs at /docs, metrics, web page); first start imports data and trains."""
    level = log_level.lower()
    if level not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter(f"--log-level must be debug, info, warning or error, got {log_level!r}")
    _logging(level)
    try:
        import uvicorn

        from cinesync.serving.app import create_app
        from cinesync.serving.settings import Settings
        from cinesync.store.db import make_engine, migrate, session_factory

        settings = Settings.from_env(home=home, database_url=database_url)
        engine = make_engine(settings.database_url)
        migrate(engine)
        factory = session_factory(engine)
        done = prepare_store(factory, settings.home, progress=level in ("debug", "info"))
        demo_id, token = ensure_demo_user(factory)
        engine.dispose()
        app = create_app(settings, rec_cache=cache, freeze_gc=True)
    except CineSyncError as e:
        err_console.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(2) from None
    if done:
        steps = [f"{k}: {v}" if isinstance(v, str) else k for k, v in done.items()]
        console.print(f"first start: {', '.join(steps)}")
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    console.print(f"CineSync at http://{shown}:{port}/  (API docs: http://{shown}:{port}/docs)", highlight=False)
    console.print(f"demo user: {demo_id}  token: {token}", highlight=False)
    console.print(f"try: curl -H 'Authorization: Bearer {token}' "
                  f"'http://{shown}:{port}/v1/users/{demo_id}/recommendations?k=10'", highlight=False)
    gc.collect()
    gc.freeze()  # startup objects (engine, routes, modules) stay out of later collections: no 100 ms pauses
    uvicorn.run(app, host=host, port=port, log_level=level, access_log=level in ("debug", "info"),
                timeout_graceful_shutdown=5)


def bench_serve(
    rate: Annotated[float, typer.Option("--rate", help="Target requests per second (open loop).", min=1)] = 200.0,
    duration: Annotated[float, typer.Option("--duration", help="Seconds of measured load.", min=1, max=600)] = 20.0,
    users: Annotated[int, typer.Option("--users", help="Users whose lists are requested round-robin.",
                                       min=1, max=1000)] = 20,
    k: Annotated[int, typer.Option("--k", help="List length.", min=1, max=100)] = 10,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Run the server with or without the "
                     "recommendation cache.")] = True,
    warmup: Annotated[float, typer.Option("--warmup", help="Seconds of unmeasured load first.", min=0)] = 2.0,
    timeout: Annotated[float, typer.Option("--timeout", help="Per-request timeout in seconds.", min=0.1)] = 10.0,
    engine_n: Annotated[int, typer.Option("--engine-n", help="Calls for the engine-only timing.", min=10)] = 300,
    home: HomeOpt = None, database_url: DbOpt = None,
    port: Annotated[int, typer.Option("--port", help="Loopback port (0 = a free one).", min=0, max=65535)] = 0,
) -> None:
    """Benchmark `serve` on 127.0.0.1: GET recommendations at a fixed open-loop rate; latency table.

    Without --home / --database-url everything happens in a temporary home (first start imports
    the bundled data and trains EASE). With them, the bench signs up --users new users there.
    """
    import asyncio
    import os

    from cinesync.serving import loadtest
    from cinesync.serving.settings import Settings, sqlite_url

    _logging("warning")
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
        err_console.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(2) from None
    load_after = os.getloadavg()[0]
    engine_stats = _engine_timing(home, database_url, engine_n)
    _print_table(result, engine_stats, cache)
    console.print(f"machine load average (1 min): {load_before:.2f} before, {load_after:.2f} after the run "
                  f"({os.cpu_count()} CPUs; other processes compete with server and client)")


def _engine_timing(home: Path, database_url: str | None, n: int) -> dict[str, float]:
    """Engine-only history -> top-10 latency (``engine.time_recommend``) on the served model."""
    from cinesync.serving.engine import Engine, time_recommend
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
    t = Table(title=f"bench-serve: GET /v1/users/{{id}}/recommendations (cache {'on' if cache else 'off'})")
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


def install(app: typer.Typer) -> None:
    """Add `serve` and `bench-serve` to ``app``."""
    app.command("serve")(serve)
    app.command("bench-serve")(bench_serve)
