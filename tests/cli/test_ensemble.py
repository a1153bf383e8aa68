"""``cinesync ensemble``: help text and a tiny end-to-end run on a synthetic CSV."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cinesync.cli.main import app
from cinesync.data.synthetic import planted

runner = CliRunner()


def test_help_lists_options():
    res = runner.invoke(app, ["ensemble", "--help"])
    assert res.exit_code == 0
    for opt in ("--protocol", "--members", "--candidates", "--json", "--augment", "--base-scale", "--no-bag"):
        assert opt in res.output


def test_tiny_run_writes_json(tmp_path):
    csv = tmp_path / "planted.csv"
    planted().to_frame().to_csv(csv, index=False)
    out = tmp_path / "res.json"
    res = runner.invoke(app, ["ensemble", "--dataset", str(csv), "-p", "loo", "-m", "itemknn,pop", "-n", "10",
                              "--no-tune", "--no-cache", "--max-rounds", "10", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    names = [r["name"] for r in doc["table"]]
    assert names[:2] == ["itemknn", "pop"] and {"rrf", "weighted", "adaptive", "ranker"} <= set(names)
    assert 0.0 < doc["candidate_recall"]["test"] <= 1.0
    assert doc["best_single"] == "itemknn"
    ranker = next(r for r in doc["table"] if r["name"] == "ranker")["confidence"]
    assert 0.0 < ranker["top10_misses"] <= 1.0
    assert "ranker" in res.output and "candidate recall" in res.output
    assert doc["augment"] == "last" and "ranker (no inner pools)" in names and "inner pools" in res.output
    assert "chosen on held-out validation users" in res.output
    assert "ranker (no bagging)" in names and "bagging" in res.output and doc["bag_ablation"]["n"] > 0
    assert doc["base_scale"] == "auto" and doc["base_scale_chosen"] in (0.0, 0.25, 0.5, 1.0, 2.0)


def test_no_bag_and_fixed_base_scale(tmp_path):
    csv = tmp_path / "planted.csv"
    planted().to_frame().to_csv(csv, index=False)
    out = tmp_path / "res.json"
    res = runner.invoke(app, ["ensemble", "--dataset", str(csv), "-p", "loo", "-m", "itemknn,pop", "-n", "10",
                              "--no-tune", "--no-cache", "--max-rounds", "10", "--no-bag", "--base-scale", "0.5",
                              "--augment", "none", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    ranker = next(r for r in doc["table"] if r["name"] == "ranker")["config"]
    assert ranker["bagged_models"] == 0 and ranker["base_scale"] == 0.5 and doc["base_scale_chosen"] == 0.5
    assert "ranker (no bagging)" not in [r["name"] for r in doc["table"]] and doc["bag_ablation"] is None


def test_unknown_member_is_a_clean_error():
    res = runner.invoke(app, ["ensemble", "-m", "ease,nope", "--no-cache"])
    assert res.exit_code == 2
    assert "nope" in res.output


def test_bad_augment_and_base_scale_are_clean_errors():
    for args in (["--augment", "sideways"], ["--base-scale", "-1"], ["--base-scale", "big"],
                 ["--base-scale", "inf"]):
        res = runner.invoke(app, ["ensemble", "--no-cache", *args])
        assert res.exit_code == 2, res.output
        assert "--augment" in res.output or "--base-scale" in res.output


def test_a_typo_in_set_fails_before_any_member_trains(monkeypatch):
    import cinesync.experiments.ensemble as experiment

    monkeypatch.setattr(experiment, "run_ensemble", lambda *a, **k: pytest.fail("trained despite a bad --set"))
    res = runner.invoke(app, ["ensemble", "-m", "ease,pop", "--set", "ease.l3=2", "--no-cache"])
    assert res.exit_code == 2 and "l3" in res.output
