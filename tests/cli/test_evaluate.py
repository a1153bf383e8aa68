"""``cinesync evaluate`` and the model groups on tiny data: a split directory, bad input, untuned models."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cinesync.cli.main import app
from cinesync.data.protocols import make_split
from cinesync.data.split_io import write_split
from cinesync.eval.runner import evaluate


@pytest.fixture(scope="module")
def split(planted_data):
    return make_split("loo", planted_data, seed=0)


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
    (["--set", "ease.l3=1", "--models", "ease"], "invalid config for model 'ease': l3"),
    (["--set", "sasrec.epochs=0", "--models", "sasrec", "--no-tune"], "epochs"),
    (["--protocol", "nope", "--models", "pop"], "unknown protocol"),
    (["--models", "pop", "--device", "tpu"], "--device"),
    (["--models", "pop", "--tracker", "tensorboard"], "--tracker"),
    (["--models", "pop", "--no-tune-models", "ease"], "not in --models"),
])
def test_cli_bad_input(args, message):
    from cinesync.cli.main import main

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


def test_model_sets():
    from cinesync.cli.common import parse_models as _parse_models

    classical = _parse_models("classical")
    assert "ease" in classical and "pop" in classical and "sasrec" not in classical
    neural = {"sasrec", "bert4rec", "twotower", "multvae", "lightgcn", "ncf"}
    assert set(_parse_models("neural")) == neural
    assert set(_parse_models("all")) == set(classical) | neural | {"content", "hybrid"}
    assert set(_parse_models("crossdomain")) == {"emcdr"} and set(_parse_models("ensemble")) == {"ensemble"}
    assert _parse_models("EASE, pop") == ["ease", "pop"]
