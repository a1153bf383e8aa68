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
        assert r.status_code == 201, r.text
        assert r.json()["label"] == "ease-v1" and r.json()["served"] is True and r.json()["config"]["l2"] == 5
        assert client.get("/readyz").status_code == 200  # first version: promoted and loaded at once
        assert client.get(f"/v1/users/{uid}/recommendations", headers=h).json()["model_version"] == r.json()["id"]
        r = client.post("/v1/admin/train", json={"model": "nope"}, headers=ADMIN)
        assert r.status_code == 422 and r.json()["detail"].startswith("unknown model 'nope'; available:")
        r = client.post("/v1/admin/train", json={"model": "ease", "config": {"l2": -1}}, headers=ADMIN)
        assert r.status_code == 422 and "l2" in r.json()["detail"]


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
    assert r.status_code == 200 and r.json()["events_new"] == 0 and r.json()["events_existing"] == 640
    r = client.post("/v1/admin/import", json={"dataset": "ml-25m"}, headers=ADMIN)
    assert r.status_code == 422 and "ml-latest-small" in r.json()["detail"]
    doc = client.get("/v1/admin/models", headers=ADMIN).json()
    assert doc["served"] == 1 and [v["label"] for v in doc["versions"]] == ["ease-v1"]
    assert doc["versions"][0]["served"] is True and doc["versions"][0]["config"]["l2"] == 10.0
