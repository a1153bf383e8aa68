"""The service's background jobs: one at a time, bounded queue, failures reported, shutdown never waits."""

from __future__ import annotations

import threading
import time

import pytest

from cinesync.errors import ConfigError, DataError, UnknownIdError
from cinesync.serving.jobs import Jobs, QueueFull


def test_jobs_run_in_order_one_at_a_time() -> None:
    jobs = Jobs(max_pending=10)
    running, seen = [], []
    lock = threading.Lock()

    def work(n: int):  # noqa: ANN202
        def run() -> dict:
            with lock:
                running.append(n)
                assert len(running) == 1  # never two at once
            time.sleep(0.01)
            with lock:
                running.remove(n)
                seen.append(n)
            return {"n": n}
        return run

    submitted = [jobs.submit("train", {"n": n}, work(n)) for n in range(5)]
    done = [jobs.wait(j.id, timeout=10) for j in submitted]
    assert seen == [0, 1, 2, 3, 4]
    assert [j.status for j in done] == ["succeeded"] * 5 and done[3].result == {"n": 3}
    assert done[0].started_at is not None and done[0].finished_at is not None
    jobs.close()


def test_failures_are_reported_on_the_job() -> None:
    jobs = Jobs()

    def bad_data() -> dict:
        raise DataError("the store holds no ratings")

    def bug() -> dict:
        raise ZeroDivisionError("division by zero")

    a, b = jobs.submit("train", {}, bad_data), jobs.submit("train", {}, bug)
    assert jobs.wait(a.id, 10).status == "failed" and a.error == "the store holds no ratings"
    assert jobs.wait(b.id, 10).status == "failed"
    assert b.error == "internal error (ZeroDivisionError: division by zero); it has been logged"
    with pytest.raises(UnknownIdError, match="unknown job id '99'"):
        jobs.get("99")
    jobs.close()


def test_bounded_queue_cancel_and_shutdown_without_waiting() -> None:
    jobs = Jobs(max_pending=2)
    gate = threading.Event()
    first = jobs.submit("train", {}, lambda: gate.wait(30) and {})
    deadline = time.monotonic() + 5
    while first.status != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    waiting = [jobs.submit("import", {}, dict) for _ in range(2)]
    with pytest.raises(QueueFull) as full:
        jobs.submit("import", {}, dict)
    assert full.value.retry_after >= 1
    assert jobs.cancel(waiting[0].id).status == "cancelled"
    with pytest.raises(ConfigError, match="is running; only a queued job can be cancelled"):
        jobs.cancel(first.id)
    jobs.submit("import", {}, dict)  # room again after the cancel
    t0 = time.perf_counter()
    jobs.close()  # the running job blocks for up to 30 s: close must not wait for it
    assert time.perf_counter() - t0 < 1.0
    assert waiting[1].status == "cancelled" and first.status == "running"
    gate.set()


def test_finished_jobs_are_trimmed_to_keep() -> None:
    jobs = Jobs(max_pending=50, keep=3)
    last = [jobs.submit("import", {}, dict) for _ in range(6)][-1]
    jobs.wait(last.id, 10)
    jobs.submit("import", {}, dict)
    assert len(jobs.list()) <= 4 and jobs.list()[-1].id == "7"
    jobs.close()
