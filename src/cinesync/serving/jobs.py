"""Background jobs of the service (training, imports): one worker thread, a bounded queue.

Long admin operations never hold an HTTP request open: ``submit`` queues the work and returns a
``Job`` at once (the API answers 202 with the job's URL); the caller polls its status. One job runs
at a time, so a training never competes with another training for the cores, and at most
``max_pending`` jobs wait: past that ``submit`` raises ``QueueFull`` (the API answers 429 with
Retry-After). A queued job can be cancelled; a running one finishes. Finished jobs are kept (the
newest ``keep``) in memory: the durable record of a training is its model version in the store.

The worker is a daemon thread: stopping the service never waits for a training to finish (a job cut
short leaves no model version behind; its files, if any, are unreferenced).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from cinesync.errors import CineSyncError, ConfigError, UnknownIdError

log = logging.getLogger(__name__)

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class QueueFull(Exception):
    """Too many jobs are waiting; retry after ``retry_after`` seconds."""

    def __init__(self, pending: int, retry_after: int) -> None:
        super().__init__(f"{pending} jobs are already waiting; retry in about {retry_after} s")
        self.retry_after = retry_after


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    """One unit of background work and what became of it."""

    id: str
    kind: str
    params: dict[str, Any]
    status: Status = "queued"
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    #: what the work returned (a JSON-able dict) once it succeeded
    result: dict[str, Any] | None = None
    #: one readable line once it failed
    error: str | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


class Jobs:
    """The service's job queue (thread-safe)."""

    def __init__(self, max_pending: int = 4, keep: int = 200) -> None:
        self.max_pending = max_pending
        self.keep = keep
        self._queue: queue.SimpleQueue[tuple[Job, Callable[[], dict[str, Any]]] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._loop, name="cinesync-job", daemon=True)
        self._worker.start()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._last_seconds = 10.0

    def submit(self, kind: str, params: dict[str, Any], work: Callable[[], dict[str, Any]]) -> Job:
        """Queue ``work`` (run later on the job thread); QueueFull when ``max_pending`` jobs wait."""
        with self._lock:
            pending = sum(1 for j in self._jobs.values() if j.status == "queued")
            if pending >= self.max_pending:
                raise QueueFull(pending, max(1, round(self._last_seconds)))
            job = Job(id=str(next(self._ids)), kind=kind, params=params)
            self._jobs[job.id] = job
            self._trim()
        self._queue.put((job, work))
        log.info("job %s (%s) queued: %s", job.id, kind, params)
        return job

    def _loop(self) -> None:
        while (entry := self._queue.get()) is not None:
            self._run(*entry)

    def _run(self, job: Job, work: Callable[[], dict[str, Any]]) -> None:
        with self._lock:
            if job.status == "cancelled":
                return
            job.status, job.started_at = "running", _now()
        t0 = time.perf_counter()
        try:
            result = work()
        except CineSyncError as e:
            self._finish(job, "failed", error=str(e))
        except Exception as e:  # noqa: BLE001 - a job's failure is reported on the job, never lost
            log.exception("job %s (%s) failed", job.id, job.kind)
            self._finish(job, "failed", error=f"internal error ({type(e).__name__}: {e}); it has been logged")
        else:
            self._finish(job, "succeeded", result=result)
        finally:
            self._last_seconds = time.perf_counter() - t0

    def _finish(self, job: Job, status: Status, result: dict[str, Any] | None = None, error: str | None = None
                ) -> None:
        with self._lock:
            job.status, job.finished_at, job.result, job.error = status, _now(), result, error
        job._done.set()
        log.info("job %s (%s) %s%s", job.id, job.kind, status, f": {error}" if error else "")

    def _trim(self) -> None:
        done = [j.id for j in self._jobs.values() if j.done]
        for jid in done[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[jid]

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownIdError(f"unknown job id {job_id!r}")
        return job

    def list(self) -> list[Job]:
        """Every kept job, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job; ConfigError when it already runs or finished."""
        job = self.get(job_id)
        with self._lock:
            if job.status != "queued":
                raise ConfigError(f"job {job_id} is {job.status}; only a queued job can be cancelled")
            job.status, job.finished_at = "cancelled", _now()
        job._done.set()
        log.info("job %s (%s) cancelled", job.id, job.kind)
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job is done (tests, scripts); returns it."""
        job = self.get(job_id)
        if not job._done.wait(timeout):
            raise TimeoutError(f"job {job_id} still {job.status} after {timeout} s")
        return job

    def close(self) -> None:
        """Cancel what waits and stop the worker after the running job (without waiting for it)."""
        with self._lock:
            for j in self._jobs.values():
                if j.status == "queued":
                    j.status, j.finished_at = "cancelled", _now()
                    j._done.set()
        self._queue.put(None)
