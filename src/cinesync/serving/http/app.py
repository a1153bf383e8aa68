"""``create_app(settings)``: the CineSync HTTP service — API under /v1, OpenAPI docs (/docs,
/openapi.json), Prometheus metrics (/metrics), health checks and the web page (mounted at /).

One process holds one ``ServiceState`` (``app.state.service``): database sessions, the
hot-reloaded Engine and the caches. Run it with ``cinesync serve`` (uvicorn).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from cinesync.serving.cache import Cache
from cinesync.serving.http import errors as api_errors
from cinesync.serving.http.routers import admin, groups, items, ops, recs, users
from cinesync.serving.metrics import MetricsMiddleware
from cinesync.serving.service import ServiceState
from cinesync.serving.settings import Settings

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).with_name("web")
DESCRIPTION = """Movie & TV recommendations that learn from every rating immediately.

Sign up with `POST /v1/users` (returns a user id and a token), then send
`Authorization: Bearer <token>` on every `/v1/users/{user_id}/...` call.
Catalogue endpoints (search, items, trending, hidden gems, genres, onboarding) need no token.
Errors are RFC 9457 problem documents (`application/problem+json`): `{"type", "title", "status",
"detail": "<what was wrong>", "instance"}`.
"""


class WebPage:
    """The web page's files under /, but never for a path the API serves: a method the API does not allow
    there gets 405 with the API's own Allow header (the static files would answer with theirs)."""

    def __init__(self, api: FastAPI, files: ASGIApp) -> None:
        self.api = api
        self.files = files

    def allowed(self, scope: Scope) -> set[str]:
        """The methods some API route serves at this request's path (empty: not an API path)."""
        methods: set[str] = set()
        for route in self.api.router.routes:
            if getattr(route, "app", None) is self:
                continue
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                if method not in methods and route.matches({**scope, "method": method})[0] == Match.FULL:
                    methods.add(method)
        return methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            allowed = self.allowed(scope)
            if allowed:
                allow = ", ".join(sorted(allowed))
                response = api_errors.problem(405, f"method {scope['method']} is not allowed here; allowed: {allow}",
                                              {"Allow": allow}, scope.get("path"))
                await response(scope, receive, send)
                return
        await self.files(scope, receive, send)


def create_app(settings: Settings, *, cache: Cache | None = None, rec_cache: bool = True,
               clock: Callable[[], datetime] | None = None, reload_interval: float = 1.0,
               redis_prefix: str = "cinesync:", web: bool = True, freeze_gc: bool = False) -> FastAPI:
    """Build the app: migrate the database, load the promoted model (if any), wire routes and handlers.

    cache: a cache backend to use instead of the one ``settings`` selects (tests).
    rec_cache: False serves every recommendation uncached (benchmarks). clock: "now" for
    context defaults. reload_interval: seconds between checks for a newly promoted model.
    redis_prefix: key prefix in Redis. web: mount the web page at / when it exists.
    freeze_gc: keep the loaded Engine out of garbage collections (dedicated server processes; see
    ``ServiceState``).
    """
    svc = ServiceState(settings, cache=cache, rec_cache=rec_cache, clock=clock, reload_interval=reload_interval,
                       redis_prefix=redis_prefix, freeze_gc=freeze_gc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

    app = FastAPI(title="CineSync", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.service = svc
    api_errors.install(app)
    for module in (ops, users, recs, items, groups, admin):
        app.include_router(module.router)
    app.add_middleware(MetricsMiddleware, metrics=svc.metrics)
    if web and (WEB_DIR / "index.html").is_file():
        app.mount("/", WebPage(app, StaticFiles(directory=WEB_DIR, html=True)), name="web")
    else:
        log.debug("no web page at %s; serving the API only", WEB_DIR)
    served = svc.served
    log.info("CineSync app ready: database %s, cache %s, model %s", svc.db.url.render_as_string(hide_password=True),
             svc.cache.kind, served.label if served else "none (train one first)")
    return app
