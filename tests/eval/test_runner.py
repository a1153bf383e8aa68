"""The evaluation runner, experiment document, reports and the evaluate CLI on tiny data."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cinesync.cli import app
from cinesync.data.split_io import write_split
from cinesync.eval.experiment import ExperimentConfig, run_experiment
from cinesync.eval.protocols import make_split
from cinesync.eval.report import markdown_table, write_csv, write_report
from cinesync.eval.runner import evaluate, grid, rank_queries
from cinesync.models.registry import create


@pytest.fixture(scope="module")
def split(planted_data):
    return make_split("loo", planted_data, seed=0)


def test_grid():
    assert grid({}) == [{}]
    assert grid({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


def test_chunked_ranking_equals_one_batch(split):
    model = create("pop").fit(split.train)
    hist, _, exclude, _ = split.test_queries()
    a = rank_queries(model, hist, exclude, 10, batch_size=7)
    b = rank_queries(model, hist, exclude, 10, batch_size=10_000)
    assert (a == b).all()
    # excluded (already seen) items never appear
    for r in range(len(hist)):
        assert not set(a[r]) & set(exclude[r].indices)


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


def test_cli_evaluate_on_split_dir(split, tmp_path):
    write_split(split, tmp_path / "split")
    out = tmp_path / "r.json"
    r = CliRunner().invoke(app, ["evaluate", "--split", str(tmp_path / "split"), "--models", "itemknn,pop",
                                 "--k", "5,10", "--no-tune", "--json", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert set(doc["results"]) == {"itemknn", "pop"}
    assert {"ndcg@10", "recall@10", "hr@5", "mrr@10", "map@10", "precision@10"} <= set(doc["results"]["pop"])
    assert doc["config"]["tuned_on"] is None
    # identical split -> the same numbers as the in-memory split (history = train+valid); only the
    # order of tied scores may differ because the item index order differs
    direct = evaluate("itemknn", split, [10], tune_on_valid=False).means()["ndcg@10"]
    assert np.isclose(doc["results"]["itemknn"]["ndcg@10"], direct, atol=0.01)


@pytest.mark.parametrize("args, message", [
    (["--models", "nope"], "unknown model"),
    (["--k", "ten"], "--k"),
    (["--k", "0"], "--k"),
    (["--set", "pop.half_life_days"], "MODEL.PARAM=VALUE"),
    (["--set", "ease.l2=1", "--models", "pop"], "not in --models"),
    (["--protocol", "nope", "--models", "pop"], "unknown protocol"),
    (["--models", "pop", "--device", "tpu"], "--device"),
    (["--models", "pop", "--tracker", "tensorboard"], "--tracker"),
    (["--models", "pop", "--no-tune-models", "ease"], "not in --models"),
])
def test_cli_bad_input(args, message):
    from cinesync.cli import main

    r = CliRunner().invoke(app, ["evaluate", *args], standalone_mode=True)
    text = r.output + (str(r.exception) if r.exception else "")
    assert r.exit_code != 0
    assert message.lower() in text.lower()
    assert main  # entry point exists


def test_cli_untuned_model_keeps_its_defaults(split, tmp_path):
    write_split(split, tmp_path / "split")
    out = tmp_path / "r.json"
    r = CliRunner().invoke(app, ["evaluate", "--split", str(tmp_path / "split"), "--models", "itemknn,ease",
                                 "--no-tune-models", "itemknn", "--k", "10", "--no-beyond", "--json", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["tuning"]["itemknn"] == [] and len(doc["tuning"]["ease"]) > 1
    assert doc["config"]["untuned"] == ["itemknn"]


@pytest.mark.slow
def test_bench_train_command(tmp_path):
    """A two-epoch SASRec on the bundled data: the table's figures and the plot are written."""
    r = CliRunner().invoke(app, ["bench-train", "--model", "sasrec", "--set", "epochs=2", "--set", "max_len=20",
                                 "--set", "eval_every=1", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    row = json.loads((tmp_path / "train_speed.json").read_text())
    assert row["epochs_run"] == 2 and row["sequences_per_epoch"] > 610 and row["targets_per_epoch"] > 90_000
    assert row["sequences_per_s"] > 0 and row["time_to_best_s"] > 0 and 0 <= row["valid_ndcg@10"] <= 1
    assert (tmp_path / "train_curve.png").stat().st_size > 1000


@pytest.mark.slow
def test_benchmark_command_small(tmp_path):
    """The benchmark runs each model in its own process and writes its table + plot."""
    r = CliRunner().invoke(app, ["benchmark", "--models", "pop", "--users", "2000", "--items", "300",
                                 "--interactions", "30000", "--synthetic-models", "pop", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "benchmark.json").read_text())
    assert [row["model"] for row in rows] == ["pop", "pop"]
    assert 1900 <= rows[1]["users"] <= 2000 and rows[1]["interactions"] == 30000  # users = test users
    assert all(row["peak_mb"] > 0 and row["eval_s"] >= 0 for row in rows)
    assert (tmp_path / "benchmark.png").stat().st_size > 1000


def test_model_sets():
    from cinesync.cli import _parse_models

    classical = _parse_models("classical")
    assert "ease" in classical and "pop" in classical and "sasrec" not in classical
    neural = {"sasrec", "bert4rec", "twotower", "multvae", "lightgcn", "ncf"}
    assert set(_parse_models("neural")) == neural
    assert set(_parse_models("all")) == set(classical) | neural | {"content", "hybrid"}
    assert set(_parse_models("crossdomain")) == {"emcdr"} and set(_parse_models("ensemble")) == {"ensemble"}
    assert _parse_models("EASE, pop") == ["ease", "pop"]
