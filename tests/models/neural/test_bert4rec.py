"""BERT4Rec: the contract plus the Cloze masking, windows, loss and bidirectionality."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

import cinesync.models.neural.bert4rec  # noqa: F401  (registers "bert4rec")
from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError
from cinesync.models import FitContext, create
from cinesync.models.neural.bert4rec import IGNORE, BERT4RecConfig, cloze, epoch_order, module_class, windows
from cinesync.ranking import recommend
from cinesync.testing.contract import RecommenderContract, planted_split

SMALL = {"epochs": 12, "hidden": 32, "max_len": 20, "layers": 1, "heads": 2, "lr": 5e-3, "batch_size": 16,
         "dropout": 0.1, "patience": None}


class TestBERT4Rec(RecommenderContract):
    name = "bert4rec"
    config = SMALL


def _seqs(pad: int = 50) -> np.ndarray:
    """(200, 10) right-aligned sequences of lengths 0..9 (cycling), items < pad."""
    hist = HistoryBatch.from_lists([list(range(n)) for n in np.arange(200) % 10])
    return hist.padded(10, pad=pad)


def test_cloze_masks_only_items_and_at_least_one() -> None:
    pad = 50
    seqs = _seqs(pad)
    inputs, targets = cloze(seqs, pad, BERT4RecConfig(mask_prob=0.2), np.random.default_rng(0))
    masked = inputs == pad + 1
    np.testing.assert_array_equal(masked, targets != IGNORE)
    np.testing.assert_array_equal(targets[masked], seqs[masked])
    np.testing.assert_array_equal(inputs[~masked], seqs[~masked])
    assert not (masked & (seqs == pad)).any()
    has_items = (seqs != pad).any(axis=1)
    np.testing.assert_array_equal(masked.any(axis=1), has_items)


def test_cloze_rate_and_force_last() -> None:
    pad = 7
    seqs = np.random.default_rng(1).integers(0, pad, (2000, 50))
    inputs, _ = cloze(seqs, pad, BERT4RecConfig(mask_prob=0.3), np.random.default_rng(0))
    assert abs((inputs == pad + 1).mean() - 0.3) < 0.01
    inputs, targets = cloze(seqs, pad, BERT4RecConfig(mask_last_prob=1.0), np.random.default_rng(0))
    expect = np.zeros_like(seqs, dtype=bool)
    expect[:, -1] = True
    np.testing.assert_array_equal(inputs == pad + 1, expect)
    np.testing.assert_array_equal(targets[:, -1], seqs[:, -1])


def test_windows_tail_and_random_crop() -> None:
    hist = HistoryBatch.from_lists([list(range(100, 130)), [1, 2], []])
    tail = windows(hist, 8, -1, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(tail, hist.padded(8, pad=-1))
    for seed in range(5):
        crop = windows(hist, 8, -1, 1.0, np.random.default_rng(seed))
        start = crop[0, 0]
        np.testing.assert_array_equal(crop[0], np.arange(start, start + 8))  # contiguous window
        assert 100 <= start <= 122
        np.testing.assert_array_equal(crop[1:], tail[1:])  # short rows are never cropped
    starts = {windows(hist, 8, -1, 1.0, np.random.default_rng(s))[0, 0] for s in range(40)}
    assert len(starts) > 5


def test_uniform_logits_give_log_n_loss() -> None:
    """Zero item embeddings and bias: every logit is 0, so the loss is log(n_items)."""
    model = create("bert4rec", SMALL)
    n_items = 30
    module = model._build({"n_items": n_items})
    with torch.no_grad():
        module.item_emb.weight.zero_()
    inp = torch.tensor([[n_items, n_items + 1, 3], [n_items + 1, 4, n_items + 1]])
    tgt = torch.tensor([[IGNORE, 5, IGNORE], [6, IGNORE, 7]])
    with torch.no_grad():
        loss = model._loss(module.eval(), (inp, tgt))
    assert float(loss) == pytest.approx(math.log(n_items), rel=1e-6)


def test_encoder_is_bidirectional_and_ignores_padding() -> None:
    cfg = BERT4RecConfig(**SMALL)
    n_items = 30
    module = module_class()(n_items, cfg).eval()
    a = torch.tensor([[n_items, 1, 2, 3, n_items + 1]])
    b = torch.tensor([[n_items, 1, 2, 3, 9]])
    with torch.no_grad():
        ha, hb = module.encode(a), module.encode(b)
        # the first item sees a later position (no causal mask)
        assert not torch.allclose(ha[0, 1], hb[0, 1])
        # padded keys are masked: whatever the padding embedding holds, the items' states stay
        module.item_emb.weight[n_items].normal_()
        np.testing.assert_allclose(module.encode(a)[0, 1:].numpy(), ha[0, 1:].numpy(), atol=1e-5)


def test_dropping_padding_columns_is_exact() -> None:
    """Positions count from the right, so a batch trimmed of all-padding columns gives the same states."""
    n_items = 30
    module = module_class()(n_items, BERT4RecConfig(**SMALL)).eval()
    seq = torch.tensor([[n_items] * 7 + [1, 2, n_items + 1], [n_items] * 8 + [4, n_items + 1]])
    with torch.no_grad():
        np.testing.assert_allclose(module.encode(seq)[:, -3:].numpy(), module.encode(seq[:, -3:]).numpy(),
                                   atol=1e-5)


def test_epoch_order_covers_every_row_once() -> None:
    lens = np.random.default_rng(0).integers(1, 300, 103)
    for bucket in (True, False):
        groups = epoch_order(lens, 16, bucket, np.random.default_rng(1))
        assert [len(g) for g in groups].count(16) == 6
        np.testing.assert_array_equal(np.sort(np.concatenate(groups)), np.arange(103))
    groups = epoch_order(lens, 16, True, np.random.default_rng(1))
    spread = np.mean([np.log1p(lens[g]).std() for g in groups])
    assert spread < 0.5 * np.log1p(lens).std()  # buckets hold similar lengths


def test_scores_use_only_last_max_len_minus_one_items() -> None:
    from cinesync.testing.contract import planted_split

    train, _ = planted_split()
    model = create("bert4rec", {**SMALL, "epochs": 1, "max_len": 6}).fit(train)
    short = HistoryBatch.from_lists([[1, 2, 3, 4, 5]])
    longer = HistoryBatch.from_lists([[9, 8, 1, 2, 3, 4, 5]])
    np.testing.assert_allclose(model.score(short), model.score(longer), atol=1e-6)


@pytest.mark.slow
def test_learns_a_successor_sequence() -> None:
    """Every user walks i, i+3, i+6, ... (mod 40): next-item accuracy must be far above the 1/40
    of any order-blind model (~0.7 after 30 epochs; ~20-30 s)."""
    rng = np.random.default_rng(0)
    n_items, rows = 40, []
    for u in range(200):
        start = rng.integers(0, n_items)
        rows += [(f"u{u}", f"i{(start + 3 * t) % n_items}", 1.0, t) for t in range(10)]
    data = Interactions.from_frame(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]))
    model = create("bert4rec", {**SMALL, "epochs": 30, "max_len": 12}).fit(data, FitContext(seed=0))
    ix = [data.items.index(f"i{k}") for k in range(n_items)]
    queries = HistoryBatch.from_lists([[ix[(s + 3 * t) % n_items] for t in range(4)] for s in range(n_items)])
    top, _ = recommend(model.score(queries), 1)
    assert np.mean(top[:, 0] == [ix[(s + 12) % n_items] for s in range(n_items)]) > 0.5


def test_heads_must_divide_hidden() -> None:
    with pytest.raises(ConfigError, match="divisible"):
        create("bert4rec", {"hidden": 30, "heads": 4})


class TestBERT4RecRandomInit(RecommenderContract):
    name = "bert4rec"
    config = {**SMALL, "item_init": "random"}


def test_svd_init_puts_cooccurring_items_close() -> None:
    """Planted blocks: items of one block are co-consumed, so SVD-initialised (tied) item vectors
    find a same-block nearest neighbour; random ones do not."""
    train, _ = planted_split()
    block = np.array([int(i[1:]) % 4 for i in train.items.ids])

    def nearest_same_block(item_init: str) -> float:
        model = create("bert4rec", {**SMALL, "hidden": 8, "item_init": item_init})
        model.dims_ = model._dims(train)
        module = model._build(model.dims_)
        model._init_module(module, train)
        w = module.item_emb.weight[: train.n_items].detach().numpy()
        w = w / np.linalg.norm(w, axis=1, keepdims=True)
        sim = w @ w.T
        np.fill_diagonal(sim, -np.inf)
        return float((block[sim.argmax(1)] == block).mean())

    torch.manual_seed(0)
    assert nearest_same_block("svd") > 0.9 > 0.5 > nearest_same_block("random")
