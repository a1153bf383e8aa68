"""The ``tv_share`` request option: the engine honours it, the HTTP API rejects bad values with 422."""

from __future__ import annotations

import pydantic
import pytest

from cinesync.data.history import UserState
from cinesync.data.synthetic import planted
from cinesync.models.ease import EASE
from cinesync.serving.engine.engine import Engine, RecRequest
from cinesync.serving.settings import Settings
from tests.serving.http.conftest import NOON, build_app, seed_store, signup


@pytest.fixture(scope="module")
def engine() -> Engine:
    data = planted()  # blocks 0, 2 are films, 1, 3 are series
    return Engine(EASE({"l2": 10.0}).fit(data), data, clock=lambda: NOON)


def _film_fan() -> UserState:
    items = [f"i{4 * j}" for j in range(8)]  # block 0: films
    return UserState.from_items(items, [5.0] * len(items))


@pytest.mark.parametrize("share", [0.0, 0.3, 0.5, 1.0])
def test_engine_honours_tv_share(engine: Engine, share: float) -> None:
    recs = engine.recommend(_film_fan(), RecRequest(k=10, tv_share=share, diversity=0.3))
    assert len(recs) == 10
    assert sum(r.domain == "tv" for r in recs) == round(10 * share)
    assert len({r.item_id for r in recs}) == 10


def test_without_tv_share_a_film_fan_gets_mostly_films(engine: Engine) -> None:
    recs = engine.recommend(_film_fan(), RecRequest(k=10))
    assert sum(r.domain == "tv" for r in recs) <= 2  # so the 0.5 / 1.0 cases above really are the mix control


def test_request_validation() -> None:
    with pytest.raises(pydantic.ValidationError, match="tv_share"):
        RecRequest(tv_share=1.2)
    with pytest.raises(pydantic.ValidationError, match="tv_share needs domain 'all'"):
        RecRequest(tv_share=0.3, domain="movie")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    from fastapi.testclient import TestClient

    home = tmp_path_factory.mktemp("mix-api")
    url = f"sqlite:///{home / 'cinesync.db'}"
    seed_store(url, home)
    with TestClient(build_app(Settings(home=home, database_url=url, admin_token="t"))) as c:
        yield c


@pytest.mark.parametrize(("query", "message"), [
    ("tv_share=1.5", "query parameter tv_share must be between 0 and 1, got '1.5'"),
    ("tv_share=-0.1", "query parameter tv_share must be between 0 and 1, got '-0.1'"),
])
def test_http_rejects_bad_tv_share(client, query: str, message: str) -> None:
    uid, h, _ = signup(client)
    r = client.get(f"/v1/users/{uid}/recommendations?{query}", headers=h)
    assert r.status_code == 422 and r.json()["detail"] == message


def test_http_tv_share_mixes_the_list(client) -> None:
    uid, h, _ = signup(client)
    for share, n_tv in ((0.0, 0), (0.4, 4), (1.0, 10)):
        r = client.get(f"/v1/users/{uid}/recommendations", params={"k": 10, "tv_share": share}, headers=h)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) == 10 and sum(it["domain"] == "tv" for it in items) == n_tv
