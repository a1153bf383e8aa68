"""``benchmarks/ranker_cv.py``: recipes compared by nested cross-validation over validation users only."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from cinesync.data.synthetic import planted

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("ranker_cv", ROOT / "benchmarks" / "ranker_cv.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("rcv") / "planted.csv"
    planted().to_frame().to_csv(path, index=False)
    return path


def test_table_of_held_out_validation_users(csv, tmp_path, capsys):
    out = tmp_path / "cv.json"
    rc = _module().main(["--dataset", str(csv), "--members", "itemknn,pop", "--scales", "0,auto", "--outer", "2",
                         "--candidates", "10", "--max-rounds", "10",
                         "--cache-dir", str(tmp_path / "cache"), "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    names = [r["variant"] for r in doc["rows"]]
    assert names == ["scale 0.0", "scale 0.0 + bagging", "scale auto", "scale auto + bagging"]
    assert doc["rows"][0]["chosen_scales"] == [0.0, 0.0] and len(doc["rows"][2]["chosen_scales"]) == 2
    assert 0.0 < doc["rows"][1]["ndcg@10"] <= 1.0 and doc["n_held_out_users"] > 0
    assert "| scale auto + bagging |" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--scales", "big"], ["--scales", "-1"], ["--outer", "1"], ["--max-rounds", "0"],
                                  ["--members", "nope"], ["--members", ","]])
def test_bad_arguments_are_clean_errors(csv, tmp_path, capsys, args):
    assert _module().main(["--dataset", str(csv), "--cache-dir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error:")
