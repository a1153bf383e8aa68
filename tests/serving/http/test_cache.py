"""The recommendation cache: hits, invalidation by the user's own writes, in-process and in Redis."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from cinesync.serving.cache import LRU, MemoryCache, RedisCache
from cinesync.serving.settings import Settings

from .conftest import REDIS_URL, build_app, signup


def get(client: TestClient, uid: str, h: dict[str, str], **params: object) -> tuple[str, list[str]]:
    r = client.get(f"/v1/users/{uid}/recommendations", params={"k": 5, **params}, headers=h)
    assert r.status_code == 200, r.text
    return r.headers["x-cache"], [x["item_id"] for x in r.json()["items"]]


def test_lru_ttl_and_eviction() -> None:
    lru = LRU(max_entries=2, ttl=0.05)
    lru.set("a", 1)
    lru.set("b", 2)
    assert lru.get("a") == 1  # a is now the most recent
    lru.set("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    time.sleep(0.06)
    assert lru.get("a") is None and len(lru) == 1
    mem = MemoryCache()
    assert mem.version("u1") == 0 and mem.bump("u1") == 1 and mem.version("u1") == 1 and mem.version("u2") == 0


def test_hits_and_invalidation_in_process(client: TestClient) -> None:
    a, ha, _ = signup(client)
    b, hb, _ = signup(client)
    client.post(f"/v1/users/{a}/ratings", json={"item_id": "i0", "rating": 5}, headers=ha)
    state, first = get(client, a, ha)
    assert state == "miss"
    assert get(client, a, ha) == ("hit", first)
    assert get(client, a, ha, k=6)[0] == "miss"  # another query is another entry
    assert get(client, a, ha, mood="happy")[0] == "miss"
    client.post(f"/v1/users/{b}/ratings", json={"item_id": "i1", "rating": 5}, headers=hb)
    assert get(client, a, ha)[0] == "hit"  # someone else's write does not touch my entries
    client.post(f"/v1/users/{a}/ratings", json={"item_id": first[0], "rating": 5}, headers=ha)
    state, after = get(client, a, ha)
    assert state == "miss" and first[0] not in after
    for write in (lambda: client.post(f"/v1/users/{a}/feedback", json={"item_id": after[0], "kind": "dislike"},
                                      headers=ha),
                  lambda: client.post(f"/v1/users/{a}/watchlist", json={"item_id": "i3"}, headers=ha),
                  lambda: client.delete(f"/v1/users/{a}/ratings/i0", headers=ha),
                  lambda: client.patch(f"/v1/users/{a}", json={"region": "DE"}, headers=ha)):
        get(client, a, ha)
        assert write().status_code in (200, 201, 204)
        assert get(client, a, ha)[0] == "miss"
    client.post(f"/v1/users/{a}/feedback", json={"item_id": "i5", "kind": "impression"}, headers=ha)
    assert get(client, a, ha)[0] == "hit"  # impressions change nothing the user sees


def test_cache_can_be_disabled(settings: Settings) -> None:
    with TestClient(build_app(settings, rec_cache=False)) as client:
        uid, h, _ = signup(client)
        assert get(client, uid, h)[0] == "off" and get(client, uid, h)[0] == "off"


@pytest.mark.redis
def test_redis_cache_is_shared_between_processes_and_invalidated(settings: Settings, redis_prefix: str) -> None:
    import redis

    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    app_a, app_b = build_app(shared, redis_prefix=redis_prefix), build_app(shared, redis_prefix=redis_prefix)
    assert app_a.state.service.cache.kind == "redis"
    with TestClient(app_a) as a_client, TestClient(app_b) as b_client:
        uid, h, _ = signup(a_client)
        a_client.post(f"/v1/users/{uid}/ratings", json={"item_id": "i0", "rating": 5}, headers=h)
        state, first = get(a_client, uid, h)
        assert state == "miss"
        assert get(b_client, uid, h) == ("hit", first)  # computed by A, served to B from Redis
        r = redis.Redis.from_url(REDIS_URL)
        keys = {k.decode() for k in r.scan_iter(match=redis_prefix + "*")}
        assert any(k.startswith(redis_prefix + "e:rec:") for k in keys)
        assert any(k.startswith(redis_prefix + "v:u") for k in keys)  # the user's feedback version
        # a write through B invalidates A's entry: A's next read is fresh and excludes the item
        b_client.post(f"/v1/users/{uid}/ratings", json={"item_id": first[0], "rating": 4}, headers=h)
        state, after = get(a_client, uid, h)
        assert state == "miss" and first[0] not in after
        assert get(b_client, uid, h) == ("hit", after)
        r.close()


@pytest.mark.redis
def test_redis_outage_degrades_to_misses(redis_prefix: str) -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", prefix=redis_prefix, timeout_s=0.2)  # nothing listens there
    assert cache.get("x") is None and cache.version("u1") == -1 and cache.bump("u1") == -1
    cache.set("x", b"1")
    live = RedisCache(REDIS_URL, prefix=redis_prefix)
    live.set("x", b"1")
    assert live.get("x") == b"1" and live.bump("u1") == 1 and live.version("u1") == 1
    live.clear()
    assert live.get("x") is None
