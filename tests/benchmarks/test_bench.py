"""``benchmarks.bench`` and ``benchmarks.bench_train``: their tables, JSON and plots on small runs."""

import json

import pytest

from benchmarks import bench, bench_train


@pytest.mark.slow
def test_bench_train_command(tmp_path):
    """A two-epoch SASRec on the bundled data: the table's figures and the plot are written."""
    bench_train.main(["--model", "sasrec", "--set", "epochs=2", "--set", "max_len=20", "--set", "eval_every=1",
                      "--out", str(tmp_path)])
    row = json.loads((tmp_path / "train_speed.json").read_text())
    assert row["epochs_run"] == 2 and row["sequences_per_epoch"] > 610 and row["targets_per_epoch"] > 90_000
    assert row["sequences_per_s"] > 0 and row["time_to_best_s"] > 0 and 0 <= row["valid_ndcg@10"] <= 1
    assert (tmp_path / "train_curve.png").stat().st_size > 1000


@pytest.mark.slow
def test_benchmark_command_small(tmp_path):
    """The benchmark runs each model in its own process and writes its table + plot."""
    bench.main(["--models", "pop", "--users", "2000", "--items", "300", "--interactions", "30000",
                "--synthetic-models", "pop", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "benchmark.json").read_text())
    assert [row["model"] for row in rows] == ["pop", "pop"]
    assert 1900 <= rows[1]["users"] <= 2000 and rows[1]["interactions"] == 30000  # users = test users
    assert all(row["peak_mb"] > 0 and row["eval_s"] >= 0 for row in rows)
    assert (tmp_path / "benchmark.png").stat().st_size > 1000
