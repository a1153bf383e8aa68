"""The evaluation runner, the tuning grid, the experiment document and reports on tiny data."""

import json

import pytest

from cinesync.data.protocols import make_split
from cinesync.eval.report import markdown_table, write_csv, write_report
from cinesync.eval.runner import evaluate
from cinesync.eval.tuning import grid
from cinesync.experiments.leaderboard import ExperimentConfig, run_experiment


@pytest.fixture(scope="module")
def split(planted_data):
    return make_split("loo", planted_data, seed=0)


def test_grid():
    assert grid({}) == [{}]
    assert grid({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


def test_evaluate_keeps_per_user_vectors(split):
    res = evaluate("pop", split, [5, 10], tune_on_valid=True)
    n = len(split.test_queries()[0])
    assert res.per_user["ndcg@10"].shape == (n,) and res.top.shape == (n, 10)
    m = res.means()
    assert 0 <= m["ndcg@5"] <= m["hr@10"] <= 1
    assert "coverage@10" in m and "novelty@10" in m


def test_experiment_document_and_reports(split, tmp_path):
    cfg = ExperimentConfig(dataset="planted", protocol="loo", models=["random", "pop", "itemknn"], ks=[10],
                           n_boot=200)
    doc = run_experiment(split, cfg, progress=False)
    res = doc["results"]
    assert set(res) == {"random", "pop", "itemknn"}
    assert res["itemknn"]["ndcg@10"] > res["pop"]["ndcg@10"]
    sig = doc["significance"]["ndcg@10"]
    assert sig["best"] == "itemknn" and sig["vs_best"]["random"]["significant"]
    lo, hi = doc["ci95"]["itemknn"]["ndcg@10"]
    assert lo <= res["itemknn"]["ndcg@10"] <= hi
    assert doc["config"]["tuned_on"] == "valid" and doc["data"]["checksum"] == split.train.checksum()
    assert "numpy" in doc["versions"]
    json.dumps(doc)  # JSON-able
    write_csv(doc, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().count("\n") == 4
    write_report(doc, tmp_path / "rep")
    assert (tmp_path / "rep" / "leaderboard.png").stat().st_size > 1000
    assert "**" in markdown_table(doc)
