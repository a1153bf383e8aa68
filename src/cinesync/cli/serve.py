"""`cinesync serve`: run the HTTP service. ``install(app)`` adds it to the main command line.

``serve`` migrates the database; on an empty one it imports the bundled ml-latest-small and trains
EASE first (``serving.bootstrap``); it makes sure a demo user exists (id "demo", ~10 ratings of
well-known films, a fresh token each start), prints the URL and the demo credentials, then runs
uvicorn. The load benchmark is ``benchmarks/bench_serve.py``.
"""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from cinesync.cli.common import DbOpt, HomeOpt, console, expected_errors, setup_logging


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
    setup_logging(level=level)
    with expected_errors():
        import uvicorn

        from cinesync.serving.bootstrap import ensure_demo_user, prepare_store
        from cinesync.serving.http.app import create_app
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


def install(app: typer.Typer) -> None:
    """Add `serve` to ``app``."""
    app.command("serve")(serve)
