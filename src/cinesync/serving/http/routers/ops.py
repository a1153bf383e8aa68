"""Operations: liveness (/healthz), readiness (/readyz: database reachable and a model loaded),
Prometheus metrics (/metrics). Not under /v1: these are for load balancers and scrapers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from cinesync.serving.http.auth import Service
from cinesync.serving.http.routers.common import errors
from cinesync.serving.http.schemas import Health, Ready

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up (nothing else is checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses=errors(503))
def readyz(svc: Service) -> Response:
    """200 when the database answers and a model is loaded; else 503 with the reason."""
    problem = svc.db_ok()
    served = svc.served if problem is None else None
    if problem is None and served is None:
        problem = f"no model loaded: {svc.last_load_error or 'no model version is promoted yet'}"
    if problem is not None:
        return JSONResponse({"detail": problem}, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse(Ready(status="ready", cache=svc.cache.kind, model_version=served.version_id,
                              model=served.label).model_dump())


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text format"}})
def metrics(svc: Service) -> Response:
    """Request counts and latencies per route, recommendation latency, cache hits and misses."""
    return Response(svc.metrics.render(), media_type=svc.metrics.content_type)
