"""The shared training loop on toy problems (each test well under a second)."""

from __future__ import annotations

import json

import numpy as np
import scipy.sparse as sp
import torch

from cinesync.data.history import HistoryBatch
from cinesync.training.config import TrainConfig
from cinesync.training.trainer import RunOptions, train
from cinesync.training.validation import ValidationData

N_ITEMS = 6


def toy() -> tuple[torch.nn.Module, callable, callable, callable]:
    """Linear regression y = x @ w_true, in shuffled mini-batches."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 1)

    def batches(rng: np.random.Generator) -> list:
        order = torch.from_numpy(rng.permutation(len(x)))
        return [(x[i], y[i]) for i in order.split(16)]

    def loss_fn(m: torch.nn.Module, batch: tuple) -> torch.Tensor:
        return torch.nn.functional.mse_loss(m(batch[0]).squeeze(-1), batch[1])

    def score_fn(m: torch.nn.Module, hist: HistoryBatch) -> np.ndarray:
        return np.tile(np.arange(N_ITEMS, dtype=np.float32), (len(hist), 1))  # never changes

    return module, batches, loss_fn, score_fn


def valid_data() -> ValidationData:
    hist = HistoryBatch.from_lists([[0], [1]])
    targets = sp.csr_matrix(np.eye(2, N_ITEMS, 4, dtype=np.float32))
    return ValidationData(hist, targets, sp.csr_matrix((2, N_ITEMS), dtype=np.float32))


def test_loss_decreases(tmp_path) -> None:
    module, batches, loss_fn, score_fn = toy()
    log = tmp_path / "metrics.jsonl"
    res = train(module, batches, loss_fn, score_fn,
                TrainConfig(epochs=20, lr=0.05, warmup_frac=0.1), RunOptions(metrics_log=str(log)))
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 20 and losses[-1] < 0.1 * losses[0]
    assert [json.loads(line)["epoch"] for line in log.read_text().splitlines()] == list(range(1, 21))


def test_schedules_and_accumulation_run() -> None:
    for schedule in ("onecycle", "constant"):
        module, batches, loss_fn, score_fn = toy()
        res = train(module, batches, loss_fn, score_fn,
                    TrainConfig(epochs=5, lr=0.05, schedule=schedule, grad_accum=2, grad_clip=None))
        assert res.history[-1]["loss"] < res.history[0]["loss"]


def test_early_stopping_and_best_epoch() -> None:
    module, batches, loss_fn, score_fn = toy()
    res = train(module, batches, loss_fn, score_fn, TrainConfig(epochs=50, patience=2), valid=valid_data())
    assert len(res.history) == 3  # epoch 1 is best, two evaluations without improvement
    assert res.best_epoch == 1
    assert res.best_ndcg == res.history[0]["ndcg@10"]


def test_determinism() -> None:
    weights = []
    for _ in range(2):
        module, batches, loss_fn, score_fn = toy()
        train(module, batches, loss_fn, score_fn, TrainConfig(epochs=3, lr=0.05), RunOptions(seed=7))
        weights.append(torch.cat([p.detach().ravel() for p in module.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def test_checkpoint_resume_continues(tmp_path) -> None:
    full, batches, loss_fn, score_fn = toy()
    train(full, batches, loss_fn, score_fn, TrainConfig(epochs=6, lr=0.05))
    ckpt = str(tmp_path / "ckpt")
    first, *_ = toy()
    res1 = train(first, batches, loss_fn, score_fn, TrainConfig(epochs=6, lr=0.05), RunOptions(checkpoint_dir=ckpt))
    assert len(list((tmp_path / "ckpt").glob("epoch_*.pt"))) == 6
    for p in sorted((tmp_path / "ckpt").glob("epoch_*.pt"))[3:]:
        p.unlink()  # as if the run had been killed after epoch 3
    resumed, *_ = toy()
    res2 = train(resumed, batches, loss_fn, score_fn, TrainConfig(epochs=6, lr=0.05), RunOptions(checkpoint_dir=ckpt))
    assert [h["epoch"] for h in res2.history] == [1, 2, 3, 4, 5, 6]
    assert res2.history[3]["loss"] == res1.history[3]["loss"]
    for a, b in zip(full.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


class FakeMLflow:
    """Records what the trainer sends to MLflow's module-level API."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def start_run(self, run_name=None):
        self.calls.append(("start", run_name))

    def log_params(self, params):
        self.calls.append(("params", params))

    def log_metrics(self, metrics, step):
        self.calls.append(("metrics", step, metrics))

    def end_run(self):
        self.calls.append(("end",))


def test_tracker_logs_params_and_every_epoch(monkeypatch) -> None:
    import sys

    fake = FakeMLflow()
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    module, batches, loss_fn, score_fn = toy()
    train(module, batches, loss_fn, score_fn, TrainConfig(epochs=3), RunOptions(tracker="mlflow", run_name="toy"),
          valid=valid_data())
    kinds = [c[0] for c in fake.calls]
    assert kinds == ["start", "params", "metrics", "metrics", "metrics", "end"]
    assert fake.calls[0] == ("start", "toy")
    assert fake.calls[1][1]["epochs"] == "3"
    steps = [c[1] for c in fake.calls if c[0] == "metrics"]
    assert steps == [1, 2, 3]
    assert {"loss", "lr", "seconds", "ndcg@10"} <= set(fake.calls[2][2])


def test_tracker_missing_package_is_a_clear_error(monkeypatch) -> None:
    import sys

    import pytest

    from cinesync.errors import ConfigError

    monkeypatch.setitem(sys.modules, "wandb", None)  # import fails as if not installed
    module, batches, loss_fn, score_fn = toy()
    with pytest.raises(ConfigError, match="pip install wandb"):
        train(module, batches, loss_fn, score_fn, TrainConfig(epochs=1), RunOptions(tracker="wandb"))
