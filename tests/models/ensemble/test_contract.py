"""The shared Recommender contract for the ensemble (cheap members, no validation -> equal weights)."""

from cinesync.testing.contract import RecommenderContract


class TestEnsemble(RecommenderContract):
    name = "ensemble"
    config = {"members": [{"name": "pop"}, {"name": "itemknn", "config": {"k": 20}}, {"name": "ease"}],
              "combiner": "weighted", "n_candidates": 20}


class TestEnsembleRRF(RecommenderContract):
    name = "ensemble"
    config = {"members": [{"name": "itemknn", "config": {"k": 20}}, {"name": "ease"}], "combiner": "rrf",
              "n_candidates": 20}
