"""Users through the API: sign-up, profile, ratings, feedback and the watchlist."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import rec_ids, signup


def test_signup_profile_and_patch(client: TestClient) -> None:
    uid, h, token = signup(client, display_name="Ann", providers=["netflix"], region="us")
    assert len(token) >= 40
    r = client.get(f"/v1/users/{uid}", headers=h)
    assert r.status_code == 200
    assert r.json() == {"user_id": uid, "display_name": "Ann", "providers": ["netflix"], "region": "US",
                        "is_admin": False, "n_ratings": 0, "n_watchlist": 0}
    assert client.get("/v1/users/me", headers=h).json()["user_id"] == uid
    r = client.patch(f"/v1/users/{uid}", json={"display_name": "Annie", "providers": ["hulu", "max"]}, headers=h)
    assert r.status_code == 200 and r.json()["display_name"] == "Annie"
    assert r.json()["providers"] == ["hulu", "max"] and r.json()["region"] == "US"  # omitted = unchanged
    # an empty body is fine for sign-up
    assert client.post("/v1/users").status_code == 201


def test_ratings_roundtrip(client: TestClient) -> None:
    uid, h, _ = signup(client)
    r = client.post(f"/v1/users/{uid}/ratings", json={"item_id": "i4", "rating": 4.5}, headers=h)
    assert r.status_code == 201
    doc = r.json()
    assert doc["item_id"] == "i4" and doc["rating"] == 4.5 and doc["title"] == "Item 4" and doc["ts"] > 0
    client.post(f"/v1/users/{uid}/ratings", json={"item_id": "i8", "rating": 3}, headers=h)
    client.post(f"/v1/users/{uid}/ratings", json={"item_id": "i4", "rating": 2}, headers=h)  # re-rating wins
    r = client.get(f"/v1/users/{uid}/ratings", headers=h)
    assert [(x["item_id"], x["rating"], x["title"]) for x in r.json()["items"]] == [
        ("i4", 2.0, "Item 4"), ("i8", 3.0, "Item 8")]  # newest first
    r = client.post(f"/v1/users/{uid}/ratings", json={"item_id": 8, "rating": 3}, headers=h)
    assert r.status_code == 409 and r.json()["detail"] == "body field item_id: unknown item id '8'"  # ints are ids
    for bad in (8.5, True, ["i4"]):
        r = client.post(f"/v1/users/{uid}/ratings", json={"item_id": bad, "rating": 3}, headers=h)
        assert r.status_code == 422 and "must be a string (or an integer id)" in r.json()["detail"]
    assert client.get(f"/v1/users/{uid}", headers=h).json()["n_ratings"] == 2

    assert client.delete(f"/v1/users/{uid}/ratings/i4", headers=h).status_code == 204
    assert [x["item_id"] for x in client.get(f"/v1/users/{uid}/ratings", headers=h).json()["items"]] == ["i8"]
    r = client.delete(f"/v1/users/{uid}/ratings/i4", headers=h)
    assert r.status_code == 404 and r.json()["detail"] == f"user {uid!r} has not rated item 'i4'"


def test_feedback_blocks_and_watched_counts(client: TestClient) -> None:
    uid, h, _ = signup(client)
    before = rec_ids(client, uid, h)
    top = before[0]
    r = client.post(f"/v1/users/{uid}/feedback", json={"item_id": top, "kind": "not_interested"}, headers=h)
    assert r.status_code == 201 and r.json()["kind"] == "not_interested"
    assert top not in rec_ids(client, uid, h)
    r = client.post(f"/v1/users/{uid}/feedback", json={"item_id": "i1", "kind": "watched"}, headers=h)
    assert r.status_code == 201
    items = client.get(f"/v1/users/{uid}/ratings", headers=h).json()["items"]
    assert [(x["item_id"], x["rating"]) for x in items] == [("i1", None)]
    for kind in ("impression", "click", "dislike"):
        assert client.post(f"/v1/users/{uid}/feedback", json={"item_id": "i2", "kind": kind},
                           headers=h).status_code == 201
    r = client.post(f"/v1/users/{uid}/feedback", json={"item_id": "i2", "kind": "love"}, headers=h)
    assert r.status_code == 422 and "body field kind must be one of 'watched'" in r.json()["detail"]


def test_watchlist(client: TestClient) -> None:
    uid, h, _ = signup(client)
    assert client.get(f"/v1/users/{uid}/watchlist", headers=h).json() == {"items": []}
    r = client.post(f"/v1/users/{uid}/watchlist", json={"item_id": "i7"}, headers=h)
    assert r.status_code == 201 and r.json()["title"] == "Item 7"
    client.post(f"/v1/users/{uid}/watchlist", json={"item_id": "i9"}, headers=h)
    assert [x["item_id"] for x in client.get(f"/v1/users/{uid}/watchlist", headers=h).json()["items"]] == ["i7", "i9"]
    assert client.delete(f"/v1/users/{uid}/watchlist/i7", headers=h).status_code == 204
    assert [x["item_id"] for x in client.get(f"/v1/users/{uid}/watchlist", headers=h).json()["items"]] == ["i9"]
    r = client.delete(f"/v1/users/{uid}/watchlist/i7", headers=h)
    assert r.status_code == 404 and r.json()["detail"] == f"item 'i7' is not on user {uid!r}'s watchlist"
    r = client.delete(f"/v1/users/{uid}/watchlist/nope", headers=h)
    assert r.status_code == 404 and r.json()["detail"] == "unknown item id 'nope'"


def test_explain(client: TestClient) -> None:
    uid, h, _ = signup(client)
    for item in ("i0", "i4", "i8"):
        client.post(f"/v1/users/{uid}/ratings", json={"item_id": item, "rating": 5}, headers=h)
    r = client.get(f"/v1/users/{uid}/explain/i12", headers=h)
    assert r.status_code == 200
    doc = r.json()
    assert doc["item_id"] == "i12" and doc["title"] == "Item 12" and doc["explanation"].startswith("Because you")
    assert {b["item_id"] for b in doc["because"]} <= {"i0", "i4", "i8"} and doc["model_version"] == 1
    assert client.get(f"/v1/users/{uid}/explain/zz", headers=h).status_code == 404
