"""`cinesync serve`: first-start preparation (import, train, demo user) and the real thing end to end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

import cinesync.data.loaders as loaders
from cinesync.data.synthetic import planted
from cinesync.serving.bootstrap import DEMO_ID, ensure_demo_user, prepare_store
from cinesync.store import repo
from cinesync.store.db import make_engine, migrate, session_factory
from tests.helpers import free_port


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated, empty store: SQLite file or a fresh PostgreSQL schema."""
    url = f"sqlite:///{tmp_path / 'cinesync.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    eng = make_engine(url)
    migrate(eng)
    yield session_factory(eng)
    eng.dispose()


def test_first_start_imports_trains_and_creates_the_demo_user(empty_store: sessionmaker[Session], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "load_dataset", lambda name, *a, **kw: planted(n_users=40, n_items=24, per_user=6))
    done = prepare_store(empty_store, tmp_path, progress=False)
    assert done["trained"] == "ease-v1" and done["import"]["events_new"] == 240
    assert prepare_store(empty_store, tmp_path, progress=False) == {}  # second start: nothing to do
    uid, token = ensure_demo_user(empty_store)
    with empty_store() as s:
        user = repo.get_user(s, DEMO_ID)
        state = repo.user_state(s, user)
        assert uid == DEMO_ID and repo.user_by_token(s, token).id == user.id
        assert len(state.history) == 10 and all(r == 4.5 for r in state.ratings)  # most popular planted items
    _, token2 = ensure_demo_user(empty_store)  # a fresh token each start; the old one stops working
    with empty_store() as s:
        assert token2 != token and repo.user_by_token(s, token) is None and repo.user_by_token(s, token2) is not None
        assert len(repo.user_state(s, repo.get_user(s, DEMO_ID)).history) == 10


@pytest.mark.slow
@pytest.mark.realdata
def test_serve_end_to_end(tmp_path: Path) -> None:
    """Fresh CINESYNC_HOME: imports ml-latest-small, trains EASE, serves; then a client's whole journey."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINESYNC_")}
    env.update(CINESYNC_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", "from cinesync.cli.main import main; main()", "serve", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("server not ready in 300 s:\n" + (tmp_path / "serve.log").read_text())
        out = (tmp_path / "serve.log").read_text()
        assert f"CineSync at {base}/" in out
        demo = re.search(r"demo user: demo\s+token: (\S+)", out)
        assert demo, out
        assert (tmp_path / "home" / "cinesync.db").is_file() and (tmp_path / "home" / "models" / "ease-v1").is_dir()
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.get("/v1/users/demo/recommendations?k=5", headers={"Authorization": f"Bearer {demo.group(1)}"})
            assert r.status_code == 200 and r.json()["items"][0]["explanation"].startswith("Because you rated")
            hits = c.get("/v1/items/search", params={"q": "toy story"}).json()["items"]
            assert hits[0]["item_id"] == "1" and hits[0]["title"].startswith("Toy Story")
            r = c.post("/v1/users", json={"display_name": "e2e"})
            uid, h = r.json()["user_id"], {"Authorization": f"Bearer {r.json()['token']}"}
            for item in ("1", "2355", "3114"):  # Toy Story, A Bug's Life, Toy Story 2
                assert c.post(f"/v1/users/{uid}/ratings", json={"item_id": item, "rating": 5},
                              headers=h).status_code == 201
            recs = c.get(f"/v1/users/{uid}/recommendations?k=10", headers=h).json()
            ids = [x["item_id"] for x in recs["items"]]
            assert len(ids) == 10 and not {"1", "2355", "3114"} & set(ids) and recs["model"] == "ease-v1"
            assert sum("Animation" in x["genres"] or "Children" in x["genres"] for x in recs["items"]) >= 5
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert proc.returncode in (0, -15)
