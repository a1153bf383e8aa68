"""Bad input gets a 4xx with one readable sentence naming the field and what was expected."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .conftest import ADMIN, signup


@pytest.fixture
def user(client: TestClient) -> tuple[str, dict[str, str]]:
    uid, h, _ = signup(client)
    return uid, h


def rate(client: TestClient, user: tuple[str, dict[str, str]], body: object, raw: str | None = None):
    uid, h = user
    if raw is not None:
        return client.post(f"/v1/users/{uid}/ratings", content=raw, headers={**h, "Content-Type": "application/json"})
    return client.post(f"/v1/users/{uid}/ratings", json=body, headers=h)


def detail(r) -> str:  # noqa: ANN001
    doc = r.json()
    assert isinstance(doc["detail"], str), doc  # never pydantic's raw error list
    return doc["detail"]


def test_unknown_ids_are_404(client: TestClient, user: tuple[str, dict[str, str]]) -> None:
    """404 is for the URL's resource (also a path that cannot name an id); an unknown item named in a
    well-formed request body is 409 Conflict with the catalogue."""
    r = rate(client, user, {"item_id": "tt0000", "rating": 4})
    assert r.status_code == 409 and detail(r) == "body field item_id: unknown item id 'tt0000'"
    for path in ("/v1/items/tt0000", "/v1/items/tt0000/similar"):
        r = client.get(path)
        assert r.status_code == 404 and detail(r) == "unknown item id 'tt0000'"
    r = client.get("/v1/users/ghost", headers=ADMIN)
    assert r.status_code == 404 and detail(r) == "unknown user id 'ghost'"
    r = client.post("/v1/admin/models/99/promote", headers=ADMIN)
    assert r.status_code == 404 and detail(r).startswith("unknown model version '99'")
    uid, h = user
    for bad in ("tt%1Fx", "x" * 200):  # a control character, too long: no item can have that id
        r = client.delete(f"/v1/users/{uid}/ratings/{bad}", headers=h)
        assert r.status_code == 404 and detail(r).startswith("no such resource: path parameter item_id")


def test_integer_valued_ids(client: TestClient, user: tuple[str, dict[str, str]]) -> None:
    """JSON Schema counts 1.0 as an integer: it names the same item as 1 and "1"."""
    for item in (1, 1.0, "1"):  # the toy catalogue's ids are "i1", ...: all three name the same unknown item
        r = rate(client, user, {"item_id": item, "rating": 4})
        assert r.status_code == 409 and detail(r) == "body field item_id: unknown item id '1'"
    r = rate(client, user, {"item_id": 1.5, "rating": 4})
    assert r.status_code == 422 and "must be a string (or an integer id)" in detail(r)


def test_id_rule_is_one_rule_in_every_dialect(client: TestClient) -> None:
    """The id pattern spells out white space: NEL and no-break spaces count at the edges in the schema
    (ECMA-262), in pydantic (Rust) and in the Python check alike; a trailing newline never passes."""
    import re

    from cinesync.serving.http.schemas import ID, check_id

    for value, ok in (("a", True), ("a b", True), ("x\x85y", True), ("a\x85", False), ("\u3000a", False),
                      ("a\n", False), (" a", False), ("", False)):
        assert (re.fullmatch(ID, value) is not None) is ok, value
        try:
            check_id(value)
            assert ok, value
        except ValueError:
            assert not ok, value
    r = client.post("/v1/users", json={"providers": ["\x85"]})
    assert r.status_code == 422 and "must be an id" in detail(r)


@pytest.mark.parametrize(("rating", "shown"), [(0, "0"), (5.5, "5.5"), (4.2, "4.2"), (-1, "-1"), (1e9, "1000000000.0")])
def test_rating_out_of_range(client: TestClient, user: tuple[str, dict[str, str]], rating: float, shown: str) -> None:
    r = rate(client, user, {"item_id": "i1", "rating": rating})
    assert r.status_code == 422
    assert detail(r) == f"body field rating must be between 0.5 and 5 in steps of 0.5, got {shown}"


@pytest.mark.parametrize("rating", ["abc", None, [4], {"x": 1}, True])
def test_rating_not_a_number(client: TestClient, user: tuple[str, dict[str, str]], rating: object) -> None:
    r = rate(client, user, {"item_id": "i1", "rating": rating})
    assert r.status_code == 422
    assert detail(r).startswith("body field rating must be a number between 0.5 and 5 in steps of 0.5, got ")


@pytest.mark.parametrize("raw", ['{"item_id": "i1", "rating": ', "{'item_id': 'i1'}", "not json", '{"a": 1,}'])
def test_malformed_json(client: TestClient, user: tuple[str, dict[str, str]], raw: str) -> None:
    r = rate(client, user, None, raw)
    assert r.status_code == 400 and detail(r).startswith("request body is not valid JSON: ")


def test_body_shape_errors(client: TestClient, user: tuple[str, dict[str, str]]) -> None:
    assert detail(rate(client, user, {"item_id": "i1"})) == "body field rating is required"
    assert detail(rate(client, user, [1, 2])).startswith("request body must be a JSON object")
    assert detail(rate(client, user, {"item_id": "i1", "rating": 4, "x": 1})) == \
        "body field x is not allowed (unknown field)"
    r = rate(client, user, {"item_id": "", "rating": 4})
    assert r.status_code == 422 and detail(r).startswith("body field item_id: string should have at least 1 character")
    r = rate(client, user, {"item_id": "i1\x00", "rating": 4})
    assert r.status_code == 422 and "must be an id: no control characters" in detail(r)
    r = rate(client, user, {"item_id": " i1", "rating": 4})
    assert r.status_code == 422 and "no spaces around it" in detail(r)
    r = client.post("/v1/users", json={"region": "United States of A"})
    assert r.status_code == 422 and detail(r).startswith("body field region: string should match pattern")


@pytest.mark.parametrize(("query", "message"), [
    ("k=0", "query parameter k must be between 1 and 100, got '0'"),
    ("k=101", "query parameter k must be between 1 and 100, got '101'"),
    ("k=ten", "query parameter k must be an integer between 1 and 100, got 'ten'"),
    ("domain=books", "query parameter domain must be one of 'movie', 'tv', 'all', got 'books'"),
    ("diversity=2", "query parameter diversity must be between 0 and 1, got '2'"),
    ("hour=24", "query parameter hour must be between 0 and 23, got '24'"),
    ("mood=grumpy", "query parameter mood: must be 'happy', 'sad', 'thrilling', 'relaxed', 'romantic', 'scary' "
                    "or 'thoughtful', got 'grumpy'"),
    ("available_only=maybe", "query parameter available_only: must be a valid boolean, unable to interpret "
                             "input, got 'maybe'"),
])
def test_recommendation_query_errors(client: TestClient, user: tuple[str, dict[str, str]], query: str,
                                     message: str) -> None:
    uid, h = user
    r = client.get(f"/v1/users/{uid}/recommendations?{query}", headers=h)
    assert r.status_code == 422 and detail(r) == message


def test_several_errors_in_one_message(client: TestClient, user: tuple[str, dict[str, str]]) -> None:
    uid, h = user
    r = client.get(f"/v1/users/{uid}/recommendations?k=500&domain=x", headers=h)
    assert detail(r) == ("query parameter k must be between 1 and 100, got '500'; "
                         "query parameter domain must be one of 'movie', 'tv', 'all', got 'x'")


def test_public_endpoint_errors(client: TestClient) -> None:
    r = client.get("/v1/items/search")
    assert r.status_code == 422 and detail(r) == "query parameter q is required"
    r = client.get("/v1/trending?k=0")
    assert r.status_code == 422 and detail(r) == "query parameter k must be between 1 and 100, got '0'"


def test_valid_queries_that_match_nothing_are_200_with_notes(client: TestClient, user: tuple[str, dict[str, str]]
                                                             ) -> None:
    """Inputs the schema allows are accepted: what matches nothing gives an empty list and says why."""
    uid, h = user
    r = client.get("/v1/items/search?q=%21%21%21")
    assert r.status_code == 200 and r.json()["items"] == [] and "no letters or digits" in r.json()["notes"][0]
    r = client.get("/v1/onboarding?genres=Westerns,g1")
    assert r.status_code == 200 and r.json()["items"] and "unknown genre(s) 'Westerns'" in r.json()["notes"][0]
    url = f"/v1/users/{uid}/recommendations"
    for query, note in (("year_min=2000&year_max=1990", "no year matches"), ("genres=Nope", "'Nope' matched nothing")):
        r = client.get(f"{url}?{query}", headers=h)
        assert r.status_code == 200 and r.json()["items"] == [] and note in r.json()["notes"][0]
    r = client.get(f"{url}?genres=Nope,g1&exclude_genres=Zzz&exclude=not-an-item", headers=h)
    assert r.status_code == 200 and r.json()["items"] and len(r.json()["notes"]) == 3
    assert "exclude: 1 unknown item id(s) ignored" in r.json()["notes"][2]
    r = client.get(f"{url}?exclude={'0' * 300}", headers=h)  # longer than any id: matches nothing, not an error
    assert r.status_code == 200 and r.json()["items"]
    r = client.get(f"{url}?tv_share=0.3&domain=movie", headers=h)
    assert r.status_code == 200 and "ignored for domain=movie" in r.json()["notes"][0]


def test_group_errors(client: TestClient) -> None:
    _, _, t1 = signup(client)
    r = client.post("/v1/groups/recommendations", json={"member_tokens": [t1]})
    assert r.status_code == 422 and detail(r) == "body field member_tokens must be a list of 2 to 8 user tokens, " \
                                                 f"got [{t1!r}]"
    r = client.post("/v1/groups/recommendations", json={"member_tokens": [t1, "bogus"]})
    assert r.status_code == 401 and detail(r) == "member_tokens[1] is not a valid user token"
    r = client.post("/v1/groups/recommendations", json={"member_tokens": [t1, t1]})
    assert r.status_code == 422 and "repeats user" in detail(r)
    r = client.post("/v1/groups/recommendations", json={"member_tokens": [t1, t1], "strategy": "vote"})
    assert r.status_code == 422 and detail(r).startswith("body field strategy must be one of 'average'")


def test_rollback_without_history_is_409(client: TestClient) -> None:
    r = client.post("/v1/admin/models/rollback", headers=ADMIN)
    assert r.status_code == 409 and detail(r) == "cannot roll back: ease-v1 is the only version promoted so far"
