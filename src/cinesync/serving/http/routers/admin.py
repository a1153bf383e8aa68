"""Admin endpoints (admin user or the admin token): import data, train, list / promote / roll back
model versions, import streaming availability.

Imports and trainings take seconds to hours, so they are background jobs: the POST answers 202 at
once with the job and its URL (``Location``); ``GET /v1/admin/jobs/{id}`` tells how it went (the
result, or one line saying why it failed; ``POST …/cancel`` cancels one that has not started). One
job runs at a time; when too many wait the POST is 429 with Retry-After. Other changes to what is
served are reloaded before the response returns, so the next request already uses them."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Response

from cinesync.errors import ConfigError
from cinesync.serving.http.auth import Admin, Service
from cinesync.serving.http.routers.common import errors
from cinesync.serving.http.schemas import (
    AvailabilityRow,
    Counts,
    ImportIn,
    JobOut,
    JobsOut,
    ModelsOut,
    ModelVersionOut,
    train_request,
)
from cinesync.serving.jobs import Job, QueueFull
from cinesync.serving.service import ServiceState
from cinesync.store import repo
from cinesync.store.schema import ModelVersion

router = APIRouter(prefix="/v1/admin", tags=["admin"])
#: one body variant per model, each with its typed config
TrainIn = train_request()


def _version(mv: ModelVersion, served_id: int | None) -> ModelVersionOut:
    return ModelVersionOut(id=mv.id, label=mv.label, model=mv.model, version=mv.version,
                           created_at=mv.created_at.isoformat() if mv.created_at else "",
                           metrics=dict(mv.metrics or {}), config=dict(mv.config or {}), served=mv.id == served_id)


def _served_out(svc: ServiceState) -> ModelVersionOut:
    svc.reload()
    with svc.read() as s:
        mv = repo.promoted_version(s)
        return _version(mv, mv.id)


def _job_out(job: Job) -> JobOut:
    return JobOut(id=job.id, kind=job.kind, status=job.status, params=job.params, created_at=job.created_at,
                  started_at=job.started_at, finished_at=job.finished_at, result=job.result, error=job.error)


def _queued(svc: ServiceState, response: Response, kind: str, params: dict[str, Any],
            work: Callable[[], dict[str, Any]]) -> JobOut:
    try:
        job = svc.jobs.submit(kind, params, work)
    except QueueFull as e:
        raise HTTPException(429, f"the job queue is full: {e}", headers={"Retry-After": str(e.retry_after)}) from None
    response.headers["Location"] = f"/v1/admin/jobs/{job.id}"
    return _job_out(job)


@router.post("/import", status_code=202, response_model=JobOut, responses=errors(400, 401, 403, 422, 429))
def import_data(_: Admin, svc: Service, response: Response,
                body: Annotated[ImportIn | None, Body()] = None) -> JobOut:
    """Import the bundled MovieLens data set in the background (idempotent: a second import adds
    nothing). The job's result counts what was added."""
    dataset = (body or ImportIn()).dataset

    def work() -> dict[str, Any]:
        from cinesync.data import loaders
        from cinesync.store.importer import import_dataset

        data = loaders.load_dataset(dataset)
        counts = import_dataset(svc.sessions, data, data.name, progress=False)
        if svc.served is not None:
            svc.reload(force=True)  # refresh catalogue and popularity
        return Counts(**counts).model_dump()

    return _queued(svc, response, "import", {"dataset": dataset}, work)


@router.post("/train", status_code=202, response_model=JobOut, responses=errors(400, 401, 403, 422, 429))
def train(_: Admin, svc: Service, response: Response, body: Annotated[TrainIn, Body()]) -> JobOut:
    """Train a model on everything in the store, in the background; the job's result is the new model
    version (the first version is served at once; ``promote`` serves a later one at once)."""
    config = body.config.model_dump(mode="json", exclude_unset=True)
    params = {"model": body.model, "config": config, "evaluate": body.evaluate, "promote": body.promote}

    def work() -> dict[str, Any]:
        from cinesync.serving.lifecycle import train_from_store

        mv = train_from_store(svc.sessions, svc.settings.home, body.model, config, evaluate=body.evaluate,
                              progress=False)
        with svc.write() as s:
            if body.promote:
                repo.promote(s, mv.id)
            served = repo.promoted_version(s)
            served_id = served.id if served else None
        if served_id == mv.id:
            svc.reload()
        return _version(mv, served_id).model_dump()

    return _queued(svc, response, "train", params, work)


JobPath = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[0-9]+$", description="a job id")]


@router.get("/jobs", response_model=JobsOut, responses=errors(401, 403))
def jobs(_: Admin, svc: Service) -> JobsOut:
    """The recent background jobs, oldest first."""
    return JobsOut(jobs=[_job_out(j) for j in svc.jobs.list()])


@router.get("/jobs/{job_id}", response_model=JobOut, responses=errors(401, 403, 404))
def job(_: Admin, svc: Service, job_id: JobPath) -> JobOut:
    """One job: queued, running, succeeded (with its result) or failed (with the reason)."""
    return _job_out(svc.jobs.get(job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, responses=errors(401, 403, 404, 409))
def cancel_job(_: Admin, svc: Service, job_id: JobPath) -> JobOut:
    """Cancel a job that has not started (409 once it runs)."""
    try:
        return _job_out(svc.jobs.cancel(job_id))
    except ConfigError as e:
        raise HTTPException(409, str(e)) from None


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
