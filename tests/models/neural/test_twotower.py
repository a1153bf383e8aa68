"""Two-tower retrieval model: the shared contract plus known-answer tests of its losses and features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

import cinesync.models.neural.twotower  # noqa: F401  (registers "twotower")
from cinesync.artifacts import load_model, save_model
from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import ConfigError, NotFittedError
from cinesync.models import FitContext, Recommender, create
from cinesync.models.neural.towers import info_nce, item_features, sampled_softmax_loss
from cinesync.testing.contract import RecommenderContract, planted_split

FAST = {"epochs": 8, "dim": 32, "hidden": 64, "max_len": 20, "batch_size": 64, "lr": 5e-3, "patience": None}
TINY = {**FAST, "epochs": 1}
LOG1P_E = math.log1p(math.exp(-1.0))  # CE of logits [1, 0] with target 0


class TestTwoTower(RecommenderContract):
    name = "twotower"
    config = FAST


@pytest.mark.slow
class TestTwoTowerHardContrastiveNext(RecommenderContract):
    """Mined negatives + contrastive views + next-item pairs (the non-default paths)."""

    name = "twotower"
    config = {**FAST, "pairs": "next", "hard_negatives": 4, "hard_pool": 20, "contrastive_weight": 0.2}


# ---- losses on hand-computable cases ---------------------------------------------------
EYE2 = torch.eye(2)


def test_in_batch_softmax_known_value() -> None:
    loss = sampled_softmax_loss(EYE2, EYE2, torch.tensor([0, 1]), temperature=1.0)
    assert float(loss) == pytest.approx(LOG1P_E, abs=1e-6)
    # temperature 0.5 doubles the logits: CE of [2, 0]
    loss = sampled_softmax_loss(EYE2, EYE2, torch.tensor([0, 1]), temperature=0.5)
    assert float(loss) == pytest.approx(math.log1p(math.exp(-2.0)), abs=1e-6)


def test_in_batch_duplicate_of_positive_is_masked() -> None:
    loss = sampled_softmax_loss(EYE2, EYE2, torch.tensor([3, 3]), temperature=1.0)
    assert float(loss) == pytest.approx(0.0, abs=1e-7)
    block = torch.tensor([[False, True], [False, False]])  # row 0 already has item 1
    loss = sampled_softmax_loss(EYE2, EYE2, torch.tensor([0, 1]), temperature=1.0, block=block)
    assert float(loss) == pytest.approx(LOG1P_E / 2, abs=1e-6)


def test_targets_share_their_row_query() -> None:
    """Two targets of one row (query [1, 0]): items 0 and 1 score 1 and 0 for that query."""
    u = torch.tensor([[1.0, 0.0]])
    row = torch.tensor([0, 0])
    loss = sampled_softmax_loss(u, EYE2, torch.tensor([0, 1]), 1.0, row=row)
    assert float(loss) == pytest.approx((LOG1P_E + math.log1p(math.exp(1.0))) / 2, abs=1e-6)


def test_log_q_correction_known_value() -> None:
    log_count = torch.tensor([math.log(2.0), 0.0])  # item 0 is expected twice per batch
    loss = sampled_softmax_loss(EYE2, EYE2, torch.tensor([0, 1]), 1.0, log_count=log_count)
    logits = np.array([[1 - math.log(2), 0.0], [-math.log(2), 1.0]])
    expected = np.mean([np.logaddexp.reduce(r) - r[i] for i, r in enumerate(logits)])
    assert float(loss) == pytest.approx(expected, abs=1e-6)


def test_hard_negatives_known_value() -> None:
    u, v = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    hard = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])  # scores 0 and 1
    ok = torch.tensor([[True, False]])
    loss = sampled_softmax_loss(u, v, torch.tensor([0]), 1.0, hard=hard, hard_ok=ok)
    assert float(loss) == pytest.approx(LOG1P_E, abs=1e-6)
    # with log-Q on, hard logits are corrected by log(K / pool) = log 2: CE of [1 - 0, 0 - log 2]
    loss = sampled_softmax_loss(u, v, torch.tensor([0]), 1.0, log_count=torch.zeros(1), hard=hard,
                                hard_ok=ok, hard_log_count=math.log(2.0))
    assert float(loss) == pytest.approx(math.log1p(math.exp(-1.0 - math.log(2.0))), abs=1e-6)


def test_info_nce_known_value() -> None:
    assert float(info_nce(EYE2, EYE2, 1.0)) == pytest.approx(LOG1P_E, abs=1e-6)
    same = torch.ones(2, 2, dtype=torch.bool)  # both rows are one user: no negatives left
    assert float(info_nce(EYE2, EYE2, 1.0, same)) == pytest.approx(0.0, abs=1e-7)


# ---- item features ---------------------------------------------------------------------
def test_item_features_genres_and_missing_year() -> None:
    df = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "z"]})
    cat = pd.DataFrame({"item_id": ["x", "y", "z"], "year": [2000, None, 2010],
                        "genres": [("Drama", "Comedy"), (), ("Drama",)]})
    feats = item_features(Interactions.from_frame(df, catalog=cat).catalog)
    np.testing.assert_allclose(feats["genres"], [[0.5, 0.5], [0, 0], [0, 1]])  # columns: Comedy, Drama
    np.testing.assert_allclose(feats["year"], [[-1, 0], [0, 1], [1, 0]])


# ---- a fitted model: embeddings, text vectors, save/load ------------------------------
@pytest.fixture(scope="module")
def fitted() -> Recommender:
    train, _ = planted_split()
    return create("twotower", TINY).fit(train, FitContext(seed=0))


def test_scores_are_user_times_item_embeddings(fitted: Recommender) -> None:
    train, _ = planted_split()
    batch = train.histories(np.arange(10))
    items, users = fitted.item_embeddings(), fitted.user_embeddings(batch)
    assert items.shape == (train.n_items, 32) and users.shape == (10, 32)
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(fitted.score(batch), users @ items.T, atol=1e-5)
    assert np.isfinite(fitted.user_embeddings(HistoryBatch.empty(2))).all()


def test_embeddings_need_a_fitted_model() -> None:
    with pytest.raises(NotFittedError):
        create("twotower").item_embeddings()


def test_context_features_not_built_yet(fitted: Recommender) -> None:
    module = fitted.module_
    seq = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(NotImplementedError, match="context"):
        module.users(seq, seq >= 0, module.item_base(), context=torch.zeros(1, 4))


def _targets(pairs: str, folds: int) -> tuple[np.ndarray, list[int]]:
    """(users, 19) count of how often each training item is a target in one epoch (the window has
    20 slots, the first is padding), and the number of targets of every row."""
    train, _ = planted_split()
    model = create("twotower", {**TINY, "pairs": pairs, "folds": folds})
    batches = model._batches(train, torch.device("cpu"))(np.random.default_rng(0))
    assert max(len(b.rows) for b in batches) == 64
    count, per_row = np.zeros(tuple(batches[0].epoch.seq.shape), int), []
    for b in batches:
        hidden = (b.epoch.part[b.rows] == b.part[:, None]).numpy()
        np.add.at(count, b.rows.numpy(), hidden)
        per_row += hidden.sum(axis=1).tolist()
    assert (count[:, 0] == 0).all()
    return count[:, 1:], per_row


def test_holdout_folds_cover_every_window_item_once() -> None:
    count, per_row = _targets("holdout", 5)
    assert (count == 1).all()  # 200 users x 19 training items, each held out exactly once
    assert sorted(set(per_row)) == [3, 4]  # balanced folds of 19 items
    count, per_row = _targets("holdout", 20)  # folds >= window: one held-out item per row
    assert (count == 1).all() and set(per_row) == {1}


def test_next_chunks_predict_later_items_only() -> None:
    count, per_row = _targets("next", 20)  # one chunk per item: prefix -> next item pairs
    assert set(per_row) == {1}
    np.testing.assert_array_equal(count, np.tile((np.arange(19) > 0).astype(int), (200, 1)))
    count, _ = _targets("next", 5)
    assert count.max() == 1 and (count[:, 0] == 0).all() and 200 * 12 < count.sum() < 200 * 18


def test_text_vectors_saved_with_the_model(tmp_path) -> None:
    train, _ = planted_split()
    vecs = np.random.default_rng(0).normal(size=(train.n_items, 8)).astype(np.float32)
    path = tmp_path / "text.npy"
    np.save(path, vecs)
    model = create("twotower", {**TINY, "text_vectors": str(path)}).fit(train, FitContext(seed=0))
    via_extra = create("twotower", TINY).fit(train, FitContext(seed=0, item_vectors=vecs))
    batch = train.histories(np.arange(5))
    np.testing.assert_allclose(model.score(batch), via_extra.score(batch), atol=1e-6)
    plain = create("twotower", TINY).fit(train, FitContext(seed=0))
    assert not np.allclose(plain.score(batch), model.score(batch))
    save_model(model, tmp_path / "model")
    path.unlink()  # loading needs nothing but the saved model
    loaded = load_model(tmp_path / "model")[0]
    np.testing.assert_array_equal(loaded.score(batch), model.score(batch))
    np.testing.assert_array_equal(loaded.module_.text.numpy(), vecs)


def test_bad_text_vectors(tmp_path) -> None:
    train, _ = planted_split()
    with pytest.raises(ValueError, match=r"expected \(100, d\)"):
        create("twotower", TINY).fit(train, FitContext(item_vectors=np.zeros((99, 4))))
    np.save(tmp_path / "t.npy", np.zeros((100, 4)))
    with pytest.raises(ConfigError, match="not both"):
        create("twotower", {**TINY, "text_vectors": str(tmp_path / "t.npy")}).fit(
            train, FitContext(item_vectors=np.zeros((100, 4))))


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="temperature"):
        create("twotower", {"temperature": 0.0})
    with pytest.raises(ConfigError, match="pairs"):
        create("twotower", {"pairs": "random"})
