"""Admin endpoints (admin user or the admin token): import data, train, list / promote / roll back
model versions, import streaming availability. Changes to what is served are reloaded before
the response returns, so the next request already uses them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path

from cinesync.errors import ConfigError
from cinesync.serving.http.auth import Admin, Service
from cinesync.serving.http.routers.common import errors
from cinesync.serving.http.schemas import AvailabilityRow, Counts, ImportIn, ModelsOut, ModelVersionOut, TrainIn
from cinesync.serving.service import ServiceState
from cinesync.store import repo
from cinesync.store.schema import ModelVersion

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def _version(mv: ModelVersion, served_id: int | None) -> ModelVersionOut:
    return ModelVersionOut(id=mv.id, label=mv.label, model=mv.model, version=mv.version,
                           created_at=mv.created_at.isoformat() if mv.created_at else "",
                           metrics=dict(mv.metrics or {}), config=dict(mv.config or {}), served=mv.id == served_id)


def _served_out(svc: ServiceState) -> ModelVersionOut:
    svc.reload()
    with svc.read() as s:
        mv = repo.promoted_version(s)
        return _version(mv, mv.id)


@router.post("/import", response_model=Counts, responses=errors(400, 401, 403, 422))
def import_data(_: Admin, svc: Service, body: Annotated[ImportIn | None, Body()] = None) -> Counts:
    """Import the bundled MovieLens data set (idempotent: a second import adds nothing)."""
    from cinesync.data import loaders
    from cinesync.store.importer import import_dataset

    data = loaders.load_dataset((body or ImportIn()).dataset)
    counts = import_dataset(svc.sessions, data, data.name, progress=False)
    if svc.served is not None:
        svc.reload(force=True)  # refresh catalogue and popularity
    return Counts(**counts)


@router.post("/train", status_code=201, response_model=ModelVersionOut, responses=errors(400, 401, 403, 422))
def train(_: Admin, svc: Service, body: TrainIn) -> ModelVersionOut:
    """Train a model on everything in the store (the first version is served at once)."""
    from cinesync.serving.lifecycle import train_from_store

    mv = train_from_store(svc.sessions, svc.settings.home, body.model, body.config, evaluate=body.evaluate,
                          progress=False)
    with svc.write() as s:
        if body.promote:
            repo.promote(s, mv.id)
        served = repo.promoted_version(s)
        served_id = served.id if served else None
    if served_id == mv.id:
        svc.reload()
    return _version(mv, served_id)


@router.get("/models", response_model=ModelsOut, responses=errors(401, 403))
def models(_: Admin, svc: Service) -> ModelsOut:
    """Every trained version, oldest first, and which one is served."""
    with svc.read() as s:
        served = repo.promoted_version(s)
        sid = served.id if served else None
        return ModelsOut(served=sid, versions=[_version(mv, sid) for mv in repo.list_versions(s)])


@router.post("/models/rollback", response_model=ModelVersionOut, responses=errors(401, 403, 409))
def rollback(_: Admin, svc: Service) -> ModelVersionOut:
    """Serve the version that was served before the current one."""
    try:
        with svc.write() as s:
            repo.rollback(s)
    except ConfigError as e:
        raise HTTPException(409, str(e)) from None
    return _served_out(svc)


@router.post("/models/{version_id}/promote", response_model=ModelVersionOut, responses=errors(401, 403, 404, 422))
def promote(_: Admin, svc: Service,
            version_id: Annotated[str, Path(min_length=1, max_length=100, description="id or label")]
            ) -> ModelVersionOut:
    """Serve this version (an id from GET /v1/admin/models, or a label like ease-v2) from now on."""
    with svc.write() as s:
        repo.promote(s, version_id.strip())
    return _served_out(svc)


@router.post("/availability", response_model=Counts, responses=errors(400, 401, 403, 422))
def availability(_: Admin, svc: Service,
                 rows: Annotated[list[AvailabilityRow], Body(max_length=100_000)]) -> Counts:
    """Add streaming offers: a JSON list of {item_id, provider, region}; unknown item ids are skipped."""
    with tempfile.TemporaryDirectory() as tmp:
        path = FilePath(tmp) / "availability.json"
        path.write_text(json.dumps([r.model_dump() for r in rows]), encoding="utf-8")
        with svc.write() as s:
            counts = repo.import_availability(s, path)
    if counts["new"] and svc.served is not None:
        svc.reload(force=True)
    return Counts(**counts)
