"""Prometheus metrics of the service (prometheus_client), one registry per app.

Request count and latency per route template (``/v1/users/{user_id}/recommendations``, not the
raw path, so label cardinality stays bounded), recommendation compute latency, cache hits and
misses, the served model version and reloads. ``MetricsMiddleware`` is a plain ASGI middleware
(cheaper than Starlette's BaseHTTPMiddleware on the hot path).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: latency buckets in seconds: sub-millisecond cache hits up to multi-second admin calls
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's collectors, registered in a private registry (many apps can coexist in tests)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cinesync_http_requests", "HTTP requests by route template, method and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("cinesync_http_request_duration_seconds", "HTTP request latency by route",
                                 ["method", "route"], buckets=BUCKETS, registry=r)
        self.recommend = Histogram("cinesync_recommendation_seconds",
                                   "Engine time to compute one list (cache misses only)", ["kind"],
                                   buckets=BUCKETS, registry=r)
        self.cache_hits = Counter("cinesync_cache_hits", "Cache hits", ["kind"], registry=r)
        self.cache_misses = Counter("cinesync_cache_misses", "Cache misses", ["kind"], registry=r)
        self.model_version = Gauge("cinesync_model_version_id", "Row id of the served model version (0 = none)",
                                   registry=r)
        self.reloads = Counter("cinesync_model_reloads", "Engine (re)loads by outcome", ["outcome"], registry=r)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


def route_label(scope: dict[str, Any]) -> str:
    """The matched route's path template, "static" for the web page mount, "unmatched" otherwise."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    path = getattr(route, "path", None)
    if path is None or path in ("", "/") and route.__class__.__name__ == "Mount":
        return "static"
    return path


class MetricsMiddleware:
    """ASGI middleware recording count and latency of every HTTP request."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_label(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - t0)
