"""Authentication and authorisation: who may read and change what; tokens are stored hashed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, select, text

from cinesync.serving.settings import Settings
from cinesync.store import repo
from cinesync.store.db import make_engine, session_factory

from .conftest import ADMIN, signup

#: (method, path template, JSON body) of every per-user endpoint
USER_ENDPOINTS = [
    ("GET", "/v1/users/{u}", None),
    ("PATCH", "/v1/users/{u}", {"display_name": "mallory"}),
    ("GET", "/v1/users/{u}/ratings", None),
    ("POST", "/v1/users/{u}/ratings", {"item_id": "i1", "rating": 1}),
    ("DELETE", "/v1/users/{u}/ratings/i1", None),
    ("POST", "/v1/users/{u}/feedback", {"item_id": "i1", "kind": "dislike"}),
    ("GET", "/v1/users/{u}/watchlist", None),
    ("POST", "/v1/users/{u}/watchlist", {"item_id": "i1"}),
    ("DELETE", "/v1/users/{u}/watchlist/i1", None),
    ("GET", "/v1/users/{u}/recommendations", None),
    ("GET", "/v1/users/{u}/explain/i1", None),
]
ADMIN_ENDPOINTS = [
    ("POST", "/v1/admin/import", None),
    ("POST", "/v1/admin/train", {"model": "pop"}),
    ("GET", "/v1/admin/models", None),
    ("POST", "/v1/admin/models/1/promote", None),
    ("POST", "/v1/admin/models/rollback", None),
    ("POST", "/v1/admin/availability", [{"item_id": "i1", "provider": "x", "region": "US"}]),
]


def call(client: TestClient, method: str, path: str, body: object, headers: dict[str, str] | None = None):
    return client.request(method, path, json=body, headers=headers or {})


@pytest.mark.parametrize(("method", "path", "body"), USER_ENDPOINTS)
def test_user_cannot_touch_another_users_data(client: TestClient, method: str, path: str, body: object) -> None:
    a, ha, _ = signup(client, display_name="A")
    b, hb, _ = signup(client, display_name="B")
    client.post(f"/v1/users/{b}/ratings", json={"item_id": "i1", "rating": 5}, headers=hb)
    client.post(f"/v1/users/{b}/watchlist", json={"item_id": "i1"}, headers=hb)
    r = call(client, method, path.format(u=b), body, ha)
    assert r.status_code == 403, r.text
    assert r.json()["detail"] == f"token does not belong to user {b!r}"
    assert r.headers["content-type"] == "application/problem+json" and r.json()["status"] == 403
    # B's data is unchanged
    assert client.get(f"/v1/users/{b}", headers=hb).json()["display_name"] == "B"
    assert [x["rating"] for x in client.get(f"/v1/users/{b}/ratings", headers=hb).json()["items"]] == [5.0]
    assert [x["item_id"] for x in client.get(f"/v1/users/{b}/watchlist", headers=hb).json()["items"]] == ["i1"]
    # a non-existent user is just as forbidden (no probing which ids exist)
    assert call(client, method, path.format(u="nobody"), body, ha).status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), USER_ENDPOINTS)
def test_missing_or_bad_token_is_401(client: TestClient, method: str, path: str, body: object) -> None:
    uid, _, _ = signup(client)
    r = call(client, method, path.format(u=uid), body)
    assert r.status_code == 401 and r.json()["detail"] == "missing token: send 'Authorization: Bearer <token>'"
    assert r.headers["www-authenticate"] == "Bearer"
    r = call(client, method, path.format(u=uid), body, {"Authorization": "Bearer not-a-real-token"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid token: no user holds it"
    r = call(client, method, path.format(u=uid), body, {"Authorization": "Basic dXNlcjpwdw=="})
    assert r.status_code == 401 and "malformed Authorization header" in r.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
def test_admin_endpoints_need_admin(client: TestClient, method: str, path: str, body: object) -> None:
    _, h, _ = signup(client)
    r = call(client, method, path, body, h)
    assert r.status_code == 403 and r.json()["detail"].startswith("admin rights required")
    assert call(client, method, path, body).status_code == 401


def test_admins_may_act_on_any_user(client: TestClient, settings: Settings) -> None:
    uid, _, _ = signup(client, display_name="B")
    assert client.get(f"/v1/users/{uid}", headers=ADMIN).json()["display_name"] == "B"
    r = client.get("/v1/users/nobody/recommendations", headers=ADMIN)
    assert r.status_code == 404 and r.json()["detail"] == "unknown user id 'nobody'"
    assert client.get("/v1/admin/models", headers=ADMIN).status_code == 200
    # an admin *user* (not only the environment token) is an admin too
    eng = make_engine(settings.database_url)
    with session_factory(eng).begin() as s:
        _, token = repo.create_user(s, display_name="root", is_admin=True)
    eng.dispose()
    r = client.get("/v1/admin/models", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["served"] == 1


def test_tokens_are_stored_hashed(client: TestClient, settings: Settings) -> None:
    uid, _, token = signup(client, display_name="Ann")
    eng = create_engine(settings.database_url)
    with eng.connect() as conn:
        dump = []
        for table in inspect(eng).get_table_names():
            dump += [repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{table}"'))]
        stored = conn.execute(text("SELECT token_hash FROM users WHERE external_id = :u"), {"u": uid}).scalar_one()
    eng.dispose()
    assert not any(token in row for row in dump)
    assert stored == repo.hash_token(token) and len(stored) == 64
    eng = make_engine(settings.database_url)
    with session_factory(eng)() as s:
        assert s.scalar(select(repo.User.external_id).where(repo.User.token_hash == repo.hash_token(token))) == uid
    eng.dispose()
