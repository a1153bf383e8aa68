"""SASRec's options: each variant passes the shared contract; the auxiliary losses do what they say."""

from __future__ import annotations

import numpy as np
import torch

from cinesync.models import FitContext, create
from cinesync.testing.contract import RecommenderContract, planted_split
from tests.models.test_classical import TestSASRec

TINY = TestSASRec.config


class TestSASRecAllOptions(RecommenderContract):
    """Rotary positions, SVD-initialised items, popularity-sampled softmax with label smoothing,
    CL4SRec contrastive loss and the uncertainty-weighted genre head, all at once."""

    name = "sasrec"
    config = {**TINY, "positions": "rope", "item_init": "svd", "loss": "sce", "negatives": 32,
              "negative_sampling": "popular", "label_smoothing": 0.1, "contrastive_weight": 0.1,
              "genre_weight": 0.5, "uncertainty": True, "heads": 2}


class TestSASRecNewestWindow(RecommenderContract):
    name = "sasrec"
    config = {**TINY, "windows": "newest", "item_init": "svd"}


def _model_and_batch(**cfg):
    train, _ = planted_split()
    model = create("sasrec", {**TINY, **cfg})
    model.dims_ = model._dims(train)
    torch.manual_seed(0)
    module = model._build(model.dims_)
    model._init_module(module, train)
    batch = model._batches(train, torch.device("cpu"))(np.random.default_rng(0))[0]
    return model, module, batch, train


def test_contrastive_and_genre_terms_add_to_the_loss() -> None:
    model, module, batch, _ = _model_and_batch()
    module.eval()  # no dropout: the base loss is the same in every call
    base = float(model._loss(module, batch))
    with_cl, module_cl, batch_cl, _ = _model_and_batch(contrastive_weight=1.0)
    module_cl.load_state_dict(module.state_dict())
    module_cl.eval()
    assert float(with_cl._loss(module_cl, batch_cl)) > base  # InfoNCE is positive
    genre_model, genre_module, genre_batch, train = _model_and_batch(genre_weight=1.0)
    assert genre_model.dims_["n_genres"] == train.catalog.genre_matrix.shape[1] > 0
    assert genre_module.genre_head.out_features == genre_model.dims_["n_genres"]


def test_uncertainty_weights_are_learned() -> None:
    train, _ = planted_split()
    model = create("sasrec", {**TINY, "genre_weight": 1.0, "uncertainty": True, "epochs": 3})
    model.fit(train, FitContext(seed=0))
    assert model.module_.log_vars is not None
    assert not torch.allclose(model.module_.log_vars, torch.zeros(2))


def test_svd_init_puts_cooccurring_items_close() -> None:
    _, module, _, train = _model_and_batch(item_init="svd", hidden=8)
    w = module.item_weights().detach().numpy()
    w = w / np.linalg.norm(w, axis=1, keepdims=True)
    block = np.array([int(i[1:]) % 4 for i in train.items.ids])  # planted: items of a block are co-consumed
    sim = w @ w.T
    np.fill_diagonal(sim, -np.inf)
    nearest_same = (block[sim.argmax(1)] == block).mean()
    _, random_module, _, _ = _model_and_batch(hidden=8, item_init="random")
    r = random_module.item_weights().detach().numpy()
    r_sim = r @ r.T
    np.fill_diagonal(r_sim, -np.inf)
    assert nearest_same > 0.9 > 0.5 > (block[r_sim.argmax(1)] == block).mean()
