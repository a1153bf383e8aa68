"""Contract tests of the classical models (3 lines each)."""

from __future__ import annotations

import pytest

from cinesync.testing.contract import RecommenderContract


class TestMostPopular(RecommenderContract):
    name = "pop"
    personalised = False
    beats_popularity = False


class TestRandom(RecommenderContract):
    name = "random"
    personalised = False
    beats_popularity = False


class TestItemKNN(RecommenderContract):
    name = "itemknn"
    config = {"k": 20, "shrink": 5.0}


class TestUserKNN(RecommenderContract):
    name = "userknn"
    config = {"k": 20}


class TestRP3beta(RecommenderContract):
    name = "rp3beta"
    config = {"k": 20}


class TestEASE(RecommenderContract):
    name = "ease"
    config = {"l2": 20.0}


class TestALS(RecommenderContract):
    name = "als"
    config = {"factors": 8, "iterations": 5, "regularization": 1.0}


class TestBPR(RecommenderContract):
    name = "bpr"
    config = {"factors": 8, "iterations": 30, "learning_rate": 0.05}


class TestBiasedMF(RecommenderContract):
    name = "biasedmf"
    config = {"factors": 8, "iterations": 5}


class TestItemKNNBM25(RecommenderContract):
    name = "itemknn"
    config = {"k": 20, "feature_weighting": "bm25"}


class TestEASEDual(RecommenderContract):
    name = "ease"
    config = {"l2": 20.0, "solver": "dual"}


class TestEASESparse(RecommenderContract):
    name = "ease"
    config = {"l2": 20.0, "sparse_k": 10}


class TestSASRec(RecommenderContract):
    name = "sasrec"
    config = {"epochs": 10, "hidden": 32, "max_len": 20, "layers": 1, "lr": 5e-3, "batch_size": 16,
              "dropout": 0.1, "patience": None}


@pytest.mark.slow
class TestSASRecGBCE(RecommenderContract):
    """gSASRec's sampled loss converges slower than full cross-entropy: 40 epochs, ~8 s a fit."""

    name = "sasrec"
    config = {**TestSASRec.config, "loss": "gbce", "negatives": 16, "epochs": 40}


class TestSeqRules(RecommenderContract):
    name = "seqrules"
    config = {"window": 5, "k": 20}


class TestSeqRulesForwardRecency(RecommenderContract):
    name = "seqrules"
    config = {"window": 3, "direction": "forward", "recency": 1.0, "k": 20}
