"""Health, readiness, Prometheus metrics, OpenAPI docs and the admin model lifecycle."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cinesync.data.synthetic import planted
from cinesync.serving.settings import Settings
from cinesync.store.db import make_engine, migrate, session_factory
from cinesync.store.importer import import_dataset

from .conftest import ADMIN, ADMIN_TOKEN, build_app, signup


@pytest.fixture
def unserved(tmp_path: Path) -> Settings:
    """A store with data but no trained model."""
    url = f"sqlite:///{tmp_path / 'cinesync.db'}"
    eng = make_engine(url)
    migrate(eng)
    import_dataset(session_factory(eng), planted(n_users=40, n_items=24, per_user=6), "planted", progress=False)
    eng.dispose()
    return Settings(home=tmp_path, database_url=url, admin_token=ADMIN_TOKEN)


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready", "cache": "memory", "model_version": 1,
                                                 "model": "ease-v1"}
    assert client.get("/docs").status_code == 200 and "swagger" in client.get("/docs").text.lower()
    spec = client.get("/openapi.json").json()
    for path in ("/v1/users", "/v1/users/{user_id}/ratings", "/v1/users/{user_id}/recommendations",
                 "/v1/items/search", "/v1/groups/recommendations", "/v1/admin/train", "/readyz"):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/v1/users/{user_id}/recommendations"]["get"]["parameters"]}
    assert {"k", "domain", "genres", "year_min", "available_only", "mood", "hour"} <= params
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_not_ready_without_a_model_until_one_is_trained(unserved: Settings) -> None:
    with TestClient(build_app(unserved)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["detail"] == "no model loaded: no model version is promoted yet"
        uid, h, _ = signup(client)
        r = client.get(f"/v1/users/{uid}/recommendations", headers=h)
        assert r.status_code == 503 and "train one with POST /v1/admin/train" in r.json()["detail"]
        assert client.get("/v1/trending").status_code == 503
        r = client.post("/v1/admin/train", json={"model": "ease", "config": {"l2": 5}}, headers=ADMIN)
        assert r.status_code == 202, r.text
        assert r.headers["Location"] == f"/v1/admin/jobs/{r.json()['id']}" and r.json()["kind"] == "train"
        assert r.json()["params"] == {"model": "ease", "config": {"l2": 5.0}, "evaluate": False, "promote": False}
        job = finished(client, r)
        assert job["status"] == "succeeded", job
        mv = job["result"]
        assert mv["label"] == "ease-v1" and mv["served"] is True and mv["config"]["l2"] == 5
        assert client.get("/readyz").status_code == 200  # first version: promoted and loaded at once
        assert client.get(f"/v1/users/{uid}/recommendations", headers=h).json()["model_version"] == mv["id"]
        r = client.post("/v1/admin/train", json={"model": "nope"}, headers=ADMIN)
        assert r.status_code == 422 and r.json()["detail"].startswith("body field model: unknown model 'nope'; "
                                                                      "available: als, ")
        r = client.post("/v1/admin/train", json={"model": "ease", "config": {"l2": -1}}, headers=ADMIN)
        assert r.status_code == 422 and r.json()["detail"] == "body field config.l2: must be greater than 0, got -1"
        r = client.post("/v1/admin/train", json={"model": "ease", "config": {"k": 3}}, headers=ADMIN)
        assert r.status_code == 422 and r.json()["detail"] == "body field config.k is not allowed (unknown field)"
        assert client.get("/v1/admin/jobs", headers=ADMIN).json()["jobs"][0]["id"] == job["id"]
        r = client.get("/v1/admin/jobs/999", headers=ADMIN)
        assert r.status_code == 404 and r.json()["detail"] == "unknown job id '999'"


def finished(client: TestClient, r, timeout: float = 60.0) -> dict:  # noqa: ANN001
    """Poll the job a 202 response points at until it is done; returns the job."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(r.headers["Location"], headers=ADMIN).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {r.headers['Location']} did not finish in {timeout} s")


def test_jobs_run_one_at_a_time_and_fail_with_a_reason(unserved: Settings) -> None:
    """One worker: a full queue is 429 with Retry-After; a queued job can be cancelled, a finished one not."""
    import threading

    with TestClient(build_app(unserved)) as client:
        svc = client.app.state.service
        r = client.post("/v1/admin/train", json={"model": "pop"}, headers=ADMIN)
        assert finished(client, r)["status"] == "succeeded"
        gate = threading.Event()
        svc.jobs.submit("train", {}, lambda: gate.wait(30) and {})  # occupies the one worker
        queued = [client.post("/v1/admin/train", json={"model": "pop"}, headers=ADMIN)
                  for _ in range(svc.jobs.max_pending)]
        assert all(q.status_code == 202 and q.json()["status"] == "queued" for q in queued)
        r = client.post("/v1/admin/train", json={"model": "pop"}, headers=ADMIN)
        assert r.status_code == 429 and r.headers["Retry-After"].isdigit()
        assert r.json()["detail"].startswith("the job queue is full")
        r = client.post(queued[0].headers["Location"] + "/cancel", headers=ADMIN)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        gate.set()
        assert finished(client, queued[-1])["status"] == "succeeded"
        r = client.post(queued[-1].headers["Location"] + "/cancel", headers=ADMIN)
        assert r.status_code == 409 and "only a queued job can be cancelled" in r.json()["detail"]
        assert client.get(queued[0].headers["Location"], headers=ADMIN).json()["status"] == "cancelled"


def test_a_failed_job_says_why(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}", admin_token=ADMIN_TOKEN)
    with TestClient(build_app(settings)) as client:
        r = client.post("/v1/admin/train", json={"model": "ease"}, headers=ADMIN)
        job = finished(client, r)
        assert job["status"] == "failed" and job["result"] is None
        assert job["error"].startswith("the store holds no ratings or watched events to train on")


def test_metrics(client: TestClient) -> None:
    uid, h, _ = signup(client)
    for _ in range(3):
        client.get(f"/v1/users/{uid}/recommendations", headers=h)
    client.get(f"/v1/users/{uid}/recommendations?k=0", headers=h)
    text = client.get("/metrics").text
    route = 'route="/v1/users/{user_id}/recommendations"'
    assert f'cinesync_http_requests_total{{method="GET",{route},status="200"}} 3.0' in text
    assert f'cinesync_http_requests_total{{method="GET",{route},status="422"}} 1.0' in text
    assert f'cinesync_http_request_duration_seconds_count{{method="GET",{route}}} 4.0' in text
    assert 'cinesync_recommendation_seconds_count{kind="user"} 1.0' in text
    assert 'cinesync_cache_hits_total{kind="recommendations"} 2.0' in text
    assert 'cinesync_cache_misses_total{kind="recommendations"} 1.0' in text
    assert "cinesync_model_version_id 1.0" in text


def test_admin_import_and_models(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import cinesync.data.loaders as loaders

    monkeypatch.setattr(loaders, "load_dataset", lambda name, *a, **kw: planted(n_users=80, n_items=60, per_user=8))
    r = client.post("/v1/admin/import", headers=ADMIN)
    assert r.status_code == 202 and r.json()["kind"] == "import"
    job = finished(client, r)
    assert job["status"] == "succeeded" and job["result"]["events_new"] == 0
    assert job["result"]["events_existing"] == 640
    r = client.post("/v1/admin/import", json={"dataset": "ml-25m"}, headers=ADMIN)
    assert r.status_code == 422 and "ml-latest-small" in r.json()["detail"]
    doc = client.get("/v1/admin/models", headers=ADMIN).json()
    assert doc["served"] == 1 and [v["label"] for v in doc["versions"]] == ["ease-v1"]
    assert doc["versions"][0]["served"] is True and doc["versions"][0]["config"]["l2"] == 10.0
