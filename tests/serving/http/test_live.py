"""Live personalisation (every served model type folds new ratings in at once) and hot reload."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cinesync.serving.lifecycle import train_from_store
from cinesync.serving.settings import Settings
from cinesync.store import repo
from cinesync.store.db import make_engine, session_factory

from .conftest import ADMIN, build_app, rec_ids, signup

CONFIGS: dict[str, dict[str, Any]] = {"ease": {"l2": 10.0}, "itemknn": {"k": 20},
                                      "als": {"factors": 8, "iterations": 8, "seed": 0, "num_threads": 1}}


def train(settings: Settings, model: str, promote: bool = False) -> int:
    """Train ``model`` on the test store through the lifecycle; returns the version id."""
    eng = make_engine(settings.database_url)
    factory = session_factory(eng)
    mv = train_from_store(factory, settings.home, model, CONFIGS.get(model, {}), evaluate=False, progress=False)
    if promote:
        with factory.begin() as s:
            repo.promote(s, mv.id)
    eng.dispose()
    return mv.id


@pytest.mark.parametrize("model", ["ease", "itemknn", "als"])
def test_rating_changes_the_very_next_list(settings: Settings, model: str) -> None:
    version = train(settings, model, promote=True)
    with TestClient(build_app(settings)) as client:
        uid, h, _ = signup(client)
        for item in ("i0", "i4", "i8"):  # block 0 of the planted data
            client.post(f"/v1/users/{uid}/ratings", json={"item_id": item, "rating": 5}, headers=h)
        r = client.get(f"/v1/users/{uid}/recommendations", params={"k": 10}, headers=h)
        assert r.json()["model_version"] == version and r.json()["model"].startswith(f"{model}-v")
        before = [x["item_id"] for x in r.json()["items"]]
        assert sum(int(i[1:]) % 4 == 0 for i in before) >= 6, before  # personal: mostly block 0
        for step in range(3):
            target = before[0]
            r = client.post(f"/v1/users/{uid}/ratings", json={"item_id": target, "rating": 5}, headers=h)
            assert r.status_code == 201
            after = rec_ids(client, uid, h)
            assert target not in after, (model, step, target, after)
            assert after != before
            before = after
        # a burst of ratings in another block pulls the list towards it, no retraining involved
        for item in ("i2", "i6", "i10", "i14", "i18", "i22", "i26", "i30"):
            client.post(f"/v1/users/{uid}/ratings", json={"item_id": item, "rating": 5}, headers=h)
        shifted = rec_ids(client, uid, h)
        assert sum(int(i[1:]) % 4 == 2 for i in shifted) > sum(int(i[1:]) % 4 == 2 for i in before), shifted


def test_promote_and_rollback_through_the_api_are_served_at_once(settings: Settings) -> None:
    v2 = train(settings, "itemknn")
    with TestClient(build_app(settings)) as client:
        uid, h, _ = signup(client)
        client.post(f"/v1/users/{uid}/ratings", json={"item_id": "i0", "rating": 5}, headers=h)
        url = f"/v1/users/{uid}/recommendations"
        assert client.get(url, headers=h).json()["model_version"] == 1
        r = client.post(f"/v1/admin/models/{v2}/promote", headers=ADMIN)
        assert r.status_code == 200 and r.json()["label"] == "itemknn-v1" and r.json()["served"] is True
        doc = client.get(url, headers=h).json()
        assert (doc["model_version"], doc["model"]) == (v2, "itemknn-v1")
        assert client.get("/readyz").json()["model"] == "itemknn-v1"
        r = client.post("/v1/admin/models/rollback", headers=ADMIN)
        assert r.status_code == 200 and r.json()["label"] == "ease-v1"
        assert client.get(url, headers=h).json()["model_version"] == 1
        r = client.post("/v1/admin/models/itemknn-v1/promote", headers=ADMIN)  # labels work too
        assert r.json()["id"] == v2 and client.get(url, headers=h).json()["model_version"] == v2


def test_promotion_by_another_process_is_picked_up_without_restart(settings: Settings) -> None:
    v2 = train(settings, "itemknn")
    with TestClient(build_app(settings, reload_interval=0.1)) as client:
        uid, h, _ = signup(client)
        url = f"/v1/users/{uid}/recommendations"
        assert client.get(url, headers=h).json()["model_version"] == 1
        eng = make_engine(settings.database_url)  # what `cinesync models promote` does
        with session_factory(eng).begin() as s:
            repo.promote(s, v2)
        eng.dispose()
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = client.get(url, headers=h)
            assert r.status_code == 200  # the old version keeps serving while the new one loads
            seen.append(r.json()["model_version"])
            if seen[-1] == v2:
                break
            time.sleep(0.05)
        assert seen[-1] == v2, seen
        assert client.get("/metrics").text.count('cinesync_model_reloads_total{outcome="ok"} 2.0') == 1
