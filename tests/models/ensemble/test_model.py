"""The registered ``ensemble`` Recommender with validation data: every combiner, save/load, confidence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cinesync.artifacts import load_model, save_model
from cinesync.errors import ConfigError
from cinesync.models import FitContext, create
from cinesync.ranking import recommend
from cinesync.training.validation import ValidationData

MEMBERS = [{"name": "itemknn", "config": {"k": 20}}, {"name": "ease"}, {"name": "pop"}]


def _ctx(split) -> FitContext:
    hist, targets, exclude, _ = split.valid_queries()
    return FitContext(seed=0, valid=ValidationData(hist, targets, exclude))


@pytest.fixture(scope="module")
def fitted_ranker(loo_split):
    model = create("ensemble", {"members": MEMBERS, "combiner": "ranker", "n_candidates": 15, "max_rounds": 20})
    return model.fit(loo_split.train, _ctx(loo_split))


@pytest.mark.parametrize("combiner", ["rrf", "weighted", "adaptive"])
def test_fusion_combiners_fit_and_rank(loo_split, combiner):
    model = create("ensemble", {"members": MEMBERS, "combiner": combiner, "n_candidates": 15})
    model.fit(loo_split.train, _ctx(loo_split))
    hist, targets, exclude, _ = loo_split.test_queries()
    scores = model.score(hist)
    assert scores.shape == (len(hist), loo_split.n_items) and np.isfinite(scores).all()
    top, _ = recommend(scores, 10, exclude=exclude)
    assert (top >= 0).all()
    if combiner != "rrf":
        assert model.combiner_["kind"] == combiner


def test_ranker_save_load_identical(fitted_ranker, loo_split, tmp_path):
    save_model(fitted_ranker, tmp_path / "ens")
    with np.load(tmp_path / "ens" / "arrays.npz", allow_pickle=False) as z:
        assert str(z["comb__model_text"]).startswith("tree")  # LightGBM text format, no pickle
        bag = z["comb__bag_texts"]  # the default bags the final ranker with its 3 fold models
        assert bag.shape == (3,) and all(str(t).startswith("tree") for t in bag)
        assert "bag_texts" not in json.loads(str(z["comb__meta"]))
    loaded = load_model(tmp_path / "ens")[0]
    hist = loo_split.test_queries()[0]
    np.testing.assert_array_equal(loaded.score(hist), fitted_ranker.score(hist))
    assert json.loads(json.dumps(loaded.config.model_dump()))["combiner"] == "ranker"


def test_candidates_rank_above_the_rest(fitted_ranker, loo_split):
    hist = loo_split.test_queries()[0].select(np.arange(5))
    scores, conf = fitted_ranker.score_with_confidence(hist)
    cand = conf > 0
    assert cand.any(axis=1).all()
    for i in range(len(hist)):
        assert scores[i, cand[i]].min() > scores[i, ~cand[i]].max()
    assert (conf <= 1.0).all() and (conf >= 0.0).all()
    assert not cand[np.repeat(np.arange(len(hist)), hist.lengths), hist.items].any()  # seen items never candidates


def test_ensemble_of_ensembles_rejected():
    with pytest.raises(ConfigError, match="ensemble as a member"):
        create("ensemble", {"members": [{"name": "ensemble"}]})


def test_unknown_combiner_and_member_rejected():
    with pytest.raises(ConfigError, match="combiner"):
        create("ensemble", {"combiner": "stacking"})
    with pytest.raises(ConfigError, match="unknown model"):
        create("ensemble", {"members": [{"name": "no-such-model"}]}).fit(
            __import__("cinesync.data.synthetic", fromlist=["planted"]).planted())


def test_inner_pools_of_the_model(fitted_ranker, loo_split):
    """The default recipe refits the members on the inner split; augment="none" trains on validation only."""
    assert fitted_ranker.config.augment == "last" and fitted_ranker.combiner_["n_inner_queries"] > 0
    assert fitted_ranker.combiner_["context"] in (True, False)  # "auto": chosen on held-out users
    plain = create("ensemble", {"members": MEMBERS, "combiner": "ranker", "n_candidates": 15, "max_rounds": 20,
                                "augment": "none"}).fit(loo_split.train, _ctx(loo_split))
    assert plain.combiner_["n_inner_queries"] == 0
    assert fitted_ranker.combiner_["n_queries"] > plain.combiner_["n_queries"]
    with pytest.raises(ConfigError):
        create("ensemble", {"augment": "sideways"})
    with pytest.raises(ConfigError):
        create("ensemble", {"base_scale": -1})
    with pytest.raises(ConfigError):
        create("ensemble", {"base_scale": "big"})
    assert create("ensemble", {"base_scale": 0.5}).config.base_scale == 0.5
    assert create("ensemble").config.base_scale == "auto"
