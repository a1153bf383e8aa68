"""End-to-end ensemble runs on the bundled ml-latest-small (slow)."""

from __future__ import annotations

import pytest

from cinesync.data.loaders import load_dataset
from cinesync.data.protocols import make_split
from cinesync.experiments.ensemble import run_ensemble

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def test_recbole_fusion_not_worse_than_best_member():
    split = make_split("recbole-8-1-1", load_dataset("ml-latest-small"), seed=0)
    res = run_ensemble(split, [("ease", {"l2": 200.0}), ("itemknn", {"k": 50, "shrink": 0.0})], n_candidates=100,
                       tune_classical=False)
    rows = {r["name"]: r for r in res["table"]}
    assert rows["ease"]["ndcg@10"] == pytest.approx(0.2697, abs=2e-3)  # the documented single-model figure
    assert rows["weighted"]["ndcg@10"] >= rows["ease"]["ndcg@10"] - 0.005
    assert rows["ranker"]["ndcg@10"] >= rows["ease"]["ndcg@10"] - 0.01
    assert res["candidate_recall"]["test"] > 0.5
