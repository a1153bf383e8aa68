"""Watch party: satisfaction per member, average / least misery / fair strategies, exclusions."""

from __future__ import annotations

import numpy as np
import pytest

from cinesync.data.history import UserState
from cinesync.serving.engine.engine import Context, Engine, RecRequest
from cinesync.serving.engine.group import percentile_satisfaction, select

from .helpers import block, cluster_items, cluster_user

REQ = RecRequest(k=10, context=Context(hour=12, weekday=2))


def test_percentile_satisfaction() -> None:
    s = percentile_satisfaction(np.array([[1.0, 3.0, 2.0], [5.0, 5.0, 0.0]]))
    assert s.tolist() == [[0.0, 1.0, 0.5], [0.75, 0.75, 0.0]]
    assert percentile_satisfaction(np.array([[7.0]])).tolist() == [[1.0]]


def test_least_misery_avoids_a_hated_item_that_average_picks() -> None:
    # item 0: loved by A, hated by B (mean 0.55); item 1: fine for both (mean 0.5)
    sat = np.array([[1.0, 0.5, 0.2], [0.1, 0.5, 0.3]])
    assert select(sat, 1, "average").tolist() == [0]
    assert select(sat, 1, "least_misery").tolist() == [1]
    assert select(sat, 3, "least_misery").tolist() == [1, 2, 0]  # the hated item only when nothing is left


def test_fair_lifts_the_least_satisfied_member() -> None:
    # A's favourites have a slightly higher mean, so average keeps picking them
    sat = np.array([[1.0, 0.95, 0.9, 0.3, 0.25, 0.2], [0.3, 0.3, 0.3, 0.9, 0.85, 0.8]])
    avg = select(sat, 3, "average")
    fair = select(sat, 3, "fair")
    assert sat[:, avg].mean(axis=1).min() < sat[:, fair].mean(axis=1).min()
    with pytest.raises(ValueError, match="least_misery"):
        select(sat, 3, "dictator")


def test_group_two_clusters(engine: Engine) -> None:
    members = {"ann": cluster_user(0, 6), "ben": cluster_user(0, 6, rating=4.5), "cat": cluster_user(1, 6)}
    avg = engine.group(members, REQ, "average")
    fair = engine.group(members, REQ, "fair")
    assert set(avg.satisfaction) == set(members) and all(len(v) == 10 for v in avg.satisfaction.values())
    assert all(0.0 <= x <= 1.0 for v in fair.satisfaction.values() for x in v)
    assert fair.mean["cat"] == pytest.approx(np.mean(fair.satisfaction["cat"]))
    assert min(fair.mean.values()) > min(avg.mean.values())
    assert any(block(r.item_id) == 1 for r in fair.items)
    assert all(r.explanation.text.startswith("Group match") for r in fair.items)


def test_least_misery_never_picks_a_hated_item_when_alternatives_exist(engine: Engine) -> None:
    members = {"a": cluster_user(0, 6), "b": cluster_user(2, 6)}
    res = engine.group(members, REQ, "least_misery")
    mins = np.min(np.array(list(res.satisfaction.values())), axis=0)
    assert mins.min() >= 0.25  # nobody's bottom quarter of the pool
    avg = engine.group(members, REQ, "average")
    avg_min = np.min(np.array(list(avg.satisfaction.values())), axis=0)
    assert mins.min() >= avg_min.min()


def test_group_excludes_anything_a_member_saw_or_blocked(engine: Engine) -> None:
    a = cluster_user(0, 6)
    b = UserState.from_items(cluster_items(1, 4), [5.0] * 4, blocked=frozenset({"i24", "i28"}))
    res = engine.group({"a": a, "b": b}, REQ, "fair")
    shown = {r.item_id for r in res.items}
    assert not shown & (set(a.history) | set(b.history) | {"i24", "i28"})


def test_group_scores_all_members_in_one_call(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = engine.model.score
    monkeypatch.setattr(engine.model, "score", lambda batch: calls.append(len(batch)) or real(batch))
    res = engine.group({"a": cluster_user(0), "b": UserState(), "c": cluster_user(3)}, REQ, "average")
    assert calls == [3] and len(res.items) == 10


def test_group_needs_members_and_a_known_strategy(engine: Engine) -> None:
    with pytest.raises(ValueError, match="at least one member"):
        engine.group({}, REQ, "fair")
    with pytest.raises(ValueError, match="strategy"):
        engine.group({"a": cluster_user(0)}, REQ, "random")  # type: ignore[arg-type]
