"""NCF / NeuMF: the contract (each architecture) plus known answers for the pieces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import cinesync.models.neural.ncf  # noqa: F401  (registers "ncf")
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError
from cinesync.models import create
from cinesync.models.neural.ncf import NCFConfig, grouped_order, module_class, sample_negatives
from cinesync.testing.contract import RecommenderContract, planted_split
from cinesync.training import runtime

FAST = {"epochs": 6, "factors": 8, "mlp_layers": 2, "lr": 2e-2, "batch_size": 1024, "init_std": 0.1,
        "patience": None}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These fits are tiny (op overhead, not FLOPs): a second torch thread only adds sync cost,
    and on a busy shared CPU it makes them an order of magnitude slower."""
    patch, before = pytest.MonkeyPatch(), torch.get_num_threads()
    patch.setattr(runtime, "available_cores", lambda: 1)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    patch.undo()


class TestNeuMF(RecommenderContract):
    name = "ncf"
    config = FAST


@pytest.mark.slow
class TestGMF(RecommenderContract):
    name = "ncf"
    config = {**FAST, "arch": "gmf"}


def tiny_module(arch: str, n_items: int = 7, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = NCFConfig(arch=arch, factors=4, mlp_layers=2, init_std=0.5, **kw)
    return module_class()(n_items, cfg).eval()


@pytest.mark.parametrize("arch", ["neumf", "gmf", "mlp"])
def test_widths_follow_the_paper_tower(arch: str) -> None:
    m = tiny_module(arch)
    dg, dm = {"neumf": (4, 8), "gmf": (4, 0), "mlp": (0, 8)}[arch]
    assert m.item_emb.shape == m.hist_emb.shape == (7, dg + dm)
    widths = [(lin.in_features, lin.out_features) for lin in m.tower if isinstance(lin, torch.nn.Linear)]
    assert widths == ([(16, 8), (8, 4)] if dm else [])
    assert m.out.in_features == dg + (4 if dm else 0)


@pytest.mark.parametrize("arch", ["neumf", "gmf", "mlp"])
def test_vectorised_scores_equal_pairwise_logits(arch: str) -> None:
    """score_all (matmul GMF + split first MLP layer, user chunks) == the per-pair forward."""
    m = tiny_module(arch)
    user = torch.randn(5, m.dg + m.dm)
    with torch.no_grad():
        fast = m.score_all(user, pairs=10)  # 1 user per chunk
        slow = m.pair_logits(user.repeat_interleave(7, 0), torch.arange(7).repeat(5)).reshape(5, 7)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_user_vector_is_normalised_history_sum() -> None:
    m = tiny_module("neumf", alpha=0.5)
    hb = HistoryBatch.from_lists([[1, 3, 3, 5], []])  # the repeated 3 counts once
    indptr, items = torch.tensor([0, 3, 3]), torch.tensor([1, 3, 5])
    with torch.no_grad():
        sums = m.history_sums(indptr, items, torch.arange(2))
        user = m.user_vectors(sums, indptr[1:] - indptr[:-1])
        want = m.hist_emb[[1, 3, 5]].sum(0) / np.sqrt(3)
        torch.testing.assert_close(user[0], want)
        torch.testing.assert_close(user[1], torch.zeros_like(want))
        model = create("ncf", {"arch": "neumf", "factors": 4, "mlp_layers": 2})
        model.module_, model.n_items_ = m, 7
        np.testing.assert_allclose(model.score(hb), m.score_all(user, 100).numpy(), rtol=1e-5, atol=1e-6)


def test_loss_leaves_the_target_out_of_its_history() -> None:
    """Hand-computed BCE: a positive sees H minus itself (count |H|-1), a negative all of H."""
    m = tiny_module("neumf", n_items=6, alpha=1.0)
    model = create("ncf", {"arch": "neumf", "factors": 4, "mlp_layers": 2, "alpha": 1.0})
    indptr, hist = torch.tensor([0, 3, 4]), torch.tensor([0, 2, 4, 1])  # user 0: {0, 2, 4}; user 1: {1}
    user, item = torch.tensor([0, 0, 1, 1]), torch.tensor([2, 5, 1, 3])
    label = torch.tensor([1.0, 0.0, 1.0, 0.0])
    w = m.hist_emb
    users = torch.stack([(w[0] + w[4]) / 2, (w[0] + w[2] + w[4]) / 3, torch.zeros_like(w[0]), w[1]])
    want = F.binary_cross_entropy_with_logits(m.pair_logits(users, item), label)
    got = model._loss(m, (user, item, label, indptr, hist))
    torch.testing.assert_close(got, want)


def test_negatives_are_uniform_over_unseen_items_and_seeded() -> None:
    # user 0 saw {1, 3}; user 1 saw {0, 1, 2, 3}; user 2 saw everything; user 3 nothing
    indptr, indices = np.array([0, 2, 6, 11, 11]), np.array([1, 3, 0, 1, 2, 3, 0, 1, 2, 3, 4])
    users = np.repeat([0, 1, 2, 3], 3000)
    a = sample_negatives(users, indptr, indices, 5, np.random.default_rng(3))
    np.testing.assert_array_equal(a, sample_negatives(users, indptr, indices, 5, np.random.default_rng(3)))
    assert set(a[users == 1]) == {4}
    for u, free in ((0, [0, 2, 4]), (3, [0, 1, 2, 3, 4])):
        freq = np.bincount(a[users == u], minlength=5) / 3000
        np.testing.assert_allclose(freq[free], 1 / len(free), atol=0.04)
        assert freq.sum() == freq[free].sum()
    assert a[users == 2].min() >= 0 and a[users == 2].max() < 5  # nothing unseen: any item


def test_grouped_order_is_a_permutation_in_user_runs() -> None:
    counts = np.array([5, 1, 7, 3])
    user = np.repeat(np.arange(4), counts)
    order = grouped_order(user, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(order), np.arange(len(user)))
    seq = user[order]
    starts = np.concatenate([[True], seq[1:] != seq[:-1]])  # first pair of each contiguous segment
    segments = np.bincount(seq[starts], minlength=4)
    assert np.all(segments <= -(-counts // 3))  # each user: at most ceil(n / 3) segments
    assert not np.array_equal(order, grouped_order(user, 3, np.random.default_rng(1)))


def test_epoch_has_negatives_per_positive() -> None:
    train, _ = planted_split()
    model = create("ncf", {**FAST, "negatives": 3, "batch_size": 10_000_000})
    (batch,) = model._batches(train, torch.device("cpu"))(np.random.default_rng(0))
    user, item, label = batch[:3]
    n_pos = train.csr().nnz
    assert len(label) == 4 * n_pos and int(label.sum()) == n_pos
    seen = set((train.user.astype(np.int64) * train.n_items + train.item).tolist())
    neg = (user * train.n_items + item)[label == 0].numpy()
    assert np.mean([k in seen for k in neg]) < 0.01


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="arch"):
        create("ncf", {"arch": "deep"})
    with pytest.raises(ConfigError, match="negatives"):
        create("ncf", {"negatives": 0})


@pytest.mark.slow
class TestMLP(RecommenderContract):
    """The MLP-only tower needs a gentler recipe than FAST: at lr 2e-2 its ReLUs die (constant
    scores) and with 4 negatives per positive it settles on an item-only (popularity) solution."""

    name = "ncf"
    config = {**FAST, "arch": "mlp", "lr": 5e-3, "epochs": 15, "negatives": 1}
