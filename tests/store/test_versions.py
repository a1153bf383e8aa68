"""Model versions: register, look up, promote, roll back (a stack), promoted_version."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cinesync.errors import ConfigError, DataError, UnknownIdError
from cinesync.store import repo


def _register(s: Session, model: str = "ease") -> int:
    return repo.register_version(s, model, f"/m/{model}", {"l2": 1.0}, "abc", {"ndcg@10": 0.1}).id


def test_register_numbers_versions_per_model(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        a1, a2, b1 = _register(s), _register(s), _register(s, "pop")
        assert [v.label for v in repo.list_versions(s)] == ["ease-v1", "ease-v2", "pop-v1"]
        assert repo.next_version(s, "ease") == 3 and repo.next_version(s, "als") == 1
        v = repo.get_version(s, a2)
        assert (v.model, v.version, v.config, v.metrics, v.data_checksum) == ("ease", 2, {"l2": 1.0},
                                                                             {"ndcg@10": 0.1}, "abc")
        assert repo.get_version(s, "ease-v1").id == a1 and repo.get_version(s, str(b1)).label == "pop-v1"
        assert v.created_at is not None
        with pytest.raises(DataError, match="ease-v1 is already registered"):
            repo.register_version(s, "ease", "/x", version=1)


@pytest.mark.parametrize("ref", [99, "99", "ease-v9", "what?"])
def test_unknown_version(factory: sessionmaker[Session], ref: int | str) -> None:
    with factory.begin() as s:
        _register(s)
        with pytest.raises(UnknownIdError, match="model version"):
            repo.get_version(s, ref)
        with pytest.raises(UnknownIdError):
            repo.promote(s, ref)


def test_promote_and_rollback_walk_a_stack(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        v1, v2, v3 = (_register(s) for _ in range(3))
        assert repo.promoted_version(s) is None
        with pytest.raises(ConfigError, match="no version has been promoted"):
            repo.rollback(s)
        repo.promote(s, v1)
        with pytest.raises(ConfigError, match="ease-v1 is the only version"):
            repo.rollback(s)
        repo.promote(s, v2)
        repo.promote(s, v2)  # no-op: already served
        repo.promote(s, "ease-v3")
        assert repo.promoted_version(s).id == v3
        assert repo.rollback(s).id == v2 and repo.promoted_version(s).id == v2
        assert repo.rollback(s).id == v1 and repo.promoted_version(s).id == v1
        with pytest.raises(ConfigError, match="cannot roll back"):
            repo.rollback(s)
        repo.promote(s, v3)
        assert repo.rollback(s).id == v1
        kinds = [(p.version_pk, p.kind) for p in repo.promotion_history(s)]
    assert kinds == [(v1, "promote"), (v2, "promote"), (v3, "promote"), (v2, "rollback"), (v1, "rollback"),
                     (v3, "promote"), (v1, "rollback")]
