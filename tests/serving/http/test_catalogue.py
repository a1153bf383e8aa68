"""Public catalogue endpoints and the watch-party endpoint."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import ADMIN, signup


def test_search_and_item_details(client: TestClient) -> None:
    r = client.get("/v1/items/search", params={"q": "Item 17", "k": 3})
    assert r.status_code == 200
    hits = r.json()["items"]
    assert hits[0] == {"item_id": "i17", "title": "Item 17", "year": 1994, "domain": "tv", "score": 100.0}
    assert len(hits) == 3 and r.json()["model_version"] == 1
    assert all(h["domain"] == "movie" for h in client.get("/v1/items/search?q=Item&domain=movie").json()["items"])
    r = client.get("/v1/items/i17")
    doc = r.json()
    assert r.status_code == 200 and doc["title"] == "Item 17" and doc["genres"] == ["g1"]
    assert doc["n_ratings"] > 0 and 1 <= doc["mean_rating"] <= 5 and doc["availability"] == []


def test_discovery_lists(client: TestClient) -> None:
    similar = client.get("/v1/items/i0/similar?k=5").json()["items"]
    assert len(similar) == 5 and "i0" not in [x["item_id"] for x in similar]
    assert sum(x["genres"] == ["g0"] for x in similar) >= 4  # planted block structure
    assert similar[0]["explanation"] == "Similar to Item 0"
    for path in ("/v1/trending?k=4", "/v1/hidden-gems?k=4", "/v1/onboarding?k=4"):
        items = client.get(path).json()["items"]
        assert len(items) == 4 and all(isinstance(x["explanation"], str) for x in items), path
    tv = client.get("/v1/trending?k=6&domain=tv").json()["items"]
    assert {x["domain"] for x in tv} == {"tv"}
    onboarding = client.get("/v1/onboarding?genres=g0,g3&k=6").json()["items"]
    assert {g for x in onboarding for g in x["genres"]} == {"g0", "g3"}
    assert client.get("/v1/genres").json() == {"genres": ["g0", "g1", "g2", "g3"]}


def test_availability_filters_recommendations(client: TestClient) -> None:
    uid, h, _ = signup(client, providers=["netflix"], region="US")
    for item in ("i0", "i4"):
        client.post(f"/v1/users/{uid}/ratings", json={"item_id": item, "rating": 5}, headers=h)
    offers = [{"item_id": "i8", "provider": "netflix", "region": "us"},
              {"item_id": "i12", "provider": "netflix", "region": "US"},
              {"item_id": "i16", "provider": "hulu", "region": "US"},
              {"item_id": "nope", "provider": "netflix", "region": "US"}]
    r = client.post("/v1/admin/availability", json=offers, headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"rows": 4, "new": 3, "existing": 0, "unknown_items": 1}
    r = client.get(f"/v1/users/{uid}/recommendations?available_only=true", headers=h)
    assert sorted(x["item_id"] for x in r.json()["items"]) == ["i12", "i8"]
    assert client.get("/v1/items/i16").json()["availability"] == [{"provider": "hulu", "region": "US"}]
    client.patch(f"/v1/users/{uid}", json={"providers": ["hulu"]}, headers=h)  # invalidates cached lists
    r = client.get(f"/v1/users/{uid}/recommendations?available_only=true", headers=h)
    assert [x["item_id"] for x in r.json()["items"]] == ["i16"]


def test_group_recommendations(client: TestClient) -> None:
    members = []
    for block in (0, 1):
        uid, h, token = signup(client, display_name=f"fan of g{block}")
        for j in range(4):
            client.post(f"/v1/users/{uid}/ratings", json={"item_id": f"i{4 * j + block}", "rating": 5}, headers=h)
        members.append((uid, token))
    r = client.post("/v1/groups/recommendations", json={"member_tokens": [t for _, t in members], "k": 6,
                                                        "strategy": "fair", "context": {"company": "friends"}})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert len(doc["items"]) == 6 and doc["strategy"] == "fair" and doc["model_version"] == 1
    assert [m["user_id"] for m in doc["members"]] == [u for u, _ in members]
    assert [m["display_name"] for m in doc["members"]] == ["fan of g0", "fan of g1"]
    assert set(doc["satisfaction"]) == {u for u, _ in members}
    assert all(len(v) == 6 and all(0 <= x <= 1 for x in v) for v in doc["satisfaction"].values())
    genres = {g for x in doc["items"] for g in x["genres"]}
    assert {"g0", "g1"} <= genres  # both members get something
    rated = {f"i{4 * j + b}" for j in range(4) for b in (0, 1)}
    assert not rated & {x["item_id"] for x in doc["items"]}


def test_recommendation_filters(client: TestClient) -> None:
    uid, h, _ = signup(client)
    for item in ("i0", "i1", "i2", "i3"):
        client.post(f"/v1/users/{uid}/ratings", json={"item_id": item, "rating": 5}, headers=h)
    url = f"/v1/users/{uid}/recommendations"
    top = client.get(url, params={"k": 5}, headers=h).json()["items"]
    r = client.get(url, params={"k": 5, "exclude": f"{top[0]['item_id']},{top[1]['item_id']},unknown"}, headers=h)
    assert not {top[0]["item_id"], top[1]["item_id"]} & {x["item_id"] for x in r.json()["items"]}
    assert {x["domain"] for x in client.get(url, params={"domain": "tv"}, headers=h).json()["items"]} == {"tv"}
    assert {g for x in client.get(url, params={"genres": "G1,g3"}, headers=h).json()["items"] for g in x["genres"]} \
        <= {"g1", "g3"}
    years = [x["year"] for x in client.get(url, params={"year_min": 1995, "year_max": 1997}, headers=h).json()["items"]]
    assert years and all(1995 <= y <= 1997 for y in years)
    doc = client.get(url, params={"company": "friends", "hour": 23, "weekday": 5}, headers=h).json()
    assert doc["context"]["company"] == "friends" and doc["context"]["hour"] == 23
    assert "late: shorter titles first" in doc["context_reasons"]
    assert client.get(url, headers=h).json()["context"]["hour"] == 12  # the (test) server clock


def test_web_page_is_served_next_to_the_api(settings) -> None:  # noqa: ANN001
    from cinesync.serving.http.app import WEB_DIR

    from .conftest import build_app

    if not (WEB_DIR / "index.html").is_file():
        pytest.skip(f"no web page at {WEB_DIR}")
    with TestClient(build_app(settings, web=True)) as client:
        r = client.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert client.get("/readyz").status_code == 200 and client.get("/docs").status_code == 200
        assert client.get("/v1/genres").json()["genres"] == ["g0", "g1", "g2", "g3"]
        r = client.get("/v1/nothing-here")
        assert r.status_code == 404 and r.json()["detail"] == "Not Found"
        r = client.options("/v1/users")  # an API path: the API's own 405 and Allow, not the web page's
        assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json()["status"] == 405
        r = client.delete("/v1/genres")
        assert r.status_code == 405 and r.headers["allow"] == "GET"
