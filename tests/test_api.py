"""The Python API (``from cinesync import load_dataset, create, evaluate``) on planted data, its errors,
and the runnable examples of docs/python.md (slow: they use the bundled MovieLens data)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import cinesync
from cinesync import Model, Recommendation, create, evaluate, load_dataset
from cinesync.errors import ConfigError, DataError, UnknownIdError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "python.md"


@pytest.fixture(scope="module")
def fitted(planted_data) -> Model:
    return create("ease", l2=10.0).fit(planted_data)


def test_the_three_names_and_the_version() -> None:
    assert cinesync.__version__ and set(cinesync.__all__) >= {"load_dataset", "create", "evaluate"}
    with pytest.raises(AttributeError, match="no attribute"):
        cinesync.not_a_name  # noqa: B018


def test_create_takes_keyword_parameters(planted_data) -> None:
    model = create("ease", l2=200)
    assert model.config["l2"] == 200.0 and model.data is None
    assert create("ease", {"l2": 5.0}, solver="dual").config == {**create("ease").config, "l2": 5.0, "solver": "dual"}
    with pytest.raises(ConfigError, match="no_such"):
        create("ease", no_such=1)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        create("nope")


def test_recommend_a_known_user_excludes_what_they_saw(fitted: Model, planted_data) -> None:
    recs = fitted.recommend(planted_data.users.id(0), k=10)
    assert len(recs) == 10 and all(isinstance(r, Recommendation) for r in recs)
    seen = set(planted_data.items.ids_of(planted_data.histories(np.array([0], np.int32)).row(0)))
    assert not seen & {r.item_id for r in recs}
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    titles = planted_data.catalog.column("title")
    assert recs[0].title == str(titles[planted_data.items.index(recs[0].item_id)])


def test_recommend_from_a_history_equals_the_model_and_ranking_layer(fitted: Model, planted_data) -> None:
    """The same list as scoring the history and ranking it by hand: the API adds ids and titles only."""
    from cinesync.data.history import HistoryBatch
    from cinesync.ranking import recommend

    history = planted_data.items.ids_of([0, 1, 2])
    recs = fitted.recommend(history=history, k=5)
    batch = HistoryBatch.from_lists([[0, 1, 2]])
    top, _ = recommend(fitted.recommender.score(batch), 5, exclude=batch.to_csr(planted_data.n_items))
    assert [r.item_id for r in recs] == planted_data.items.ids_of(top[0])
    kept = fitted.recommend(history=history, k=5, exclude_seen=False)
    assert {r.item_id for r in kept} & set(history)  # the planted cluster's own items rank first


def test_recommend_bad_input(fitted: Model, planted_data) -> None:
    with pytest.raises(UnknownIdError, match="unknown user id 'nobody'"):
        fitted.recommend("nobody")
    with pytest.raises(UnknownIdError, match="unknown item id 'x'"):
        fitted.recommend(history=["x"])
    with pytest.raises(ConfigError, match="exactly one"):
        fitted.recommend()
    with pytest.raises(ConfigError, match="exactly one"):
        fitted.recommend(planted_data.users.id(0), history=["0"])
    with pytest.raises(ConfigError, match="list of item ids"):
        fitted.recommend(history="260")
    for k in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="k must be"):
            fitted.recommend(planted_data.users.id(0), k=k)
    with pytest.raises(ConfigError, match="not fitted"):
        create("pop").recommend("1")
    with pytest.raises(ConfigError, match="expects the data set"):
        create("pop").fit("ml-latest-small")
    assert fitted.recommend(history=[], k=3)  # an empty history is a cold start, not an error


def test_save_and_load_round_trip(fitted: Model, planted_data, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    again = Model.load(tmp_path / "m", planted_data)
    uid = planted_data.users.id(3)
    assert again.recommend(uid, k=7) == fitted.recommend(uid, k=7)
    other = load_dataset("ml-latest-small")
    with pytest.raises(DataError, match="other items"):
        Model.load(tmp_path / "m", other)


def test_a_model_that_needs_validation_holds_out_the_newest_items(planted_data) -> None:
    model = create("ensemble", members=[{"name": "pop"}, {"name": "itemknn"}], combiner="weighted").fit(planted_data)
    assert model.recommender.combiner_["kind"] == "weighted"
    assert len(model.recommend(planted_data.users.id(1), k=5)) == 5


def test_evaluate_gives_a_table_and_the_full_document(planted_data, tmp_path: Path) -> None:
    board = evaluate(planted_data, models="pop,itemknn", k=10, tune=False, beyond=False)
    assert list(board.table.index) == ["pop", "itemknn"] and board.best == "itemknn"
    assert board.table.loc["itemknn", "ndcg@10"] > board.table.loc["pop", "ndcg@10"]
    assert board.document["config"]["protocol"] == "loo" and "ci95" in board.document
    assert "itemknn" in repr(board)
    board.save(json_path=str(tmp_path / "r.json"), csv_path=str(tmp_path / "r.csv"))
    assert (tmp_path / "r.json").is_file() and (tmp_path / "r.csv").read_text().count("\n") == 3
    fixed = evaluate(planted_data, models=["ease"], k=[5], configs={"ease": {"l2": 3.0}}, beyond=False)
    assert fixed.document["config"]["model_configs"]["ease"]["l2"] == 3.0 and fixed.document["tuning"]["ease"]


def test_evaluate_bad_input_fails_before_training(planted_data) -> None:
    with pytest.raises(ConfigError, match="no_such"):
        evaluate(planted_data, models="pop,ease", configs={"ease": {"no_such": 1}})
    with pytest.raises(ConfigError, match="not among the models"):
        evaluate(planted_data, models="pop", configs={"ease": {"l2": 1.0}})
    with pytest.raises(ConfigError, match="unknown model"):
        evaluate(planted_data, models="pop,nope")
    with pytest.raises(ConfigError, match="at least one model"):
        evaluate(planted_data, models="")
    with pytest.raises(ConfigError, match="positive cut-offs"):
        evaluate(planted_data, models="pop", k=0)
    with pytest.raises(ConfigError, match="unknown protocol"):
        evaluate(planted_data, models="pop", protocol="nope")


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.slow
@pytest.mark.realdata
def test_the_documented_examples_run() -> None:
    """Every ```python block of docs/python.md runs, in order, in one namespace (as a notebook would)."""
    blocks = python_blocks(DOCS)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), namespace)  # noqa: S102
    assert isinstance(namespace["recs"][0], Recommendation) and len(namespace["recs"]) == 10
    assert namespace["board"].best in ("ease", "itemknn", "pop")
