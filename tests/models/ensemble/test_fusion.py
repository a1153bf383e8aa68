"""RRF math, candidate-level metrics vs full ranking, weight tuning on planted data, adaptive buckets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cinesync.metrics import ranking_metrics
from cinesync.models.ensemble import fusion
from cinesync.models.ensemble.features import normalised_scores
from cinesync.ranking import topk
from cinesync.ranking.candidates import full_ranks, in_topk, union_topn

from .conftest import planted_scores


def test_rrf_hand_computed():
    ranks = np.array([[0, 2], [1, 0], [2, 1]], float)  # 3 candidates, 2 members, 0-based ranks
    got = fusion.rrf(ranks, k=60)
    want = [1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62]
    np.testing.assert_allclose(got, want)
    assert np.argmax(got) == 1  # ranked 2nd and 1st beats 1st and 3rd


def test_candidate_metrics_equal_full_ranking():
    targets, good, noise = planted_scores()
    s = good + 0.5 * noise
    c = union_topn([s, noise], 40)  # every item is a candidate
    t = sp.csr_matrix(targets.astype(np.float32))
    got = fusion.candidate_metrics(c, s[c.rows, c.items], c.labels(t), np.diff(t.indptr), 10)
    want = ranking_metrics(topk(s.copy(), 10)[0], t, [10])
    np.testing.assert_allclose(got["ndcg@10"], want["ndcg@10"], atol=1e-9)
    np.testing.assert_allclose(got["recall@10"], want["recall@10"], atol=1e-9)


def test_targets_outside_candidates_count_as_misses():
    s = np.array([[3, 2, 1, 0]], np.float32)
    c = union_topn([s], 2)
    t = sp.csr_matrix(np.array([[1, 0, 0, 1]], np.float32))
    m = fusion.candidate_metrics(c, s[c.rows, c.items], c.labels(t), np.array([2]), 10)
    assert m["recall@10"][0] == pytest.approx(0.5)
    assert m["ndcg@10"][0] == pytest.approx(1.0 / (1.0 + 1.0 / np.log2(3)))


def _pool(targets, members):
    c = union_topn(members, 20)
    t = sp.csr_matrix(targets.astype(np.float32))
    return c, normalised_scores(members, c), c.labels(t), np.diff(t.indptr)


def test_weight_tuning_picks_the_better_member():
    targets, good, noise = planted_scores(n=60)
    c, z, labels, nt = _pool(targets, [noise, good])
    w, value = fusion.tune_weights(z, c, labels, nt)
    assert w[1] > w[0] and w[0] == 0.0
    alone = np.nanmean(fusion.candidate_metrics(c, z[:, 1], labels, nt)["ndcg@10"])
    assert value >= alone - 1e-9


def test_adaptive_weights_follow_the_bucket():
    """Short histories: member A is informative; long ones: member B. Each bucket must pick its member."""
    targets, good, noise = planted_scores(n=80, seed=1)
    lengths = np.repeat([5.0, 50.0], 40)
    a = np.where(lengths[:, None] < 10, good, noise).astype(np.float32)
    b = np.where(lengths[:, None] < 10, noise, good).astype(np.float32)
    c, z, labels, nt = _pool(targets, [a, b])
    edges, weights = fusion.tune_adaptive(z, c, labels, nt, lengths, n_buckets=2)
    assert len(edges) == 1 and weights.shape == (2, 2)
    assert weights[0, 0] > weights[0, 1] and weights[1, 1] > weights[1, 0]
    fused = fusion.adaptive(z, c, lengths, edges, weights)
    ada = np.nanmean(fusion.candidate_metrics(c, fused, labels, nt)["ndcg@10"])
    w, glob = fusion.tune_weights(z, c, labels, nt)
    assert ada > glob


def test_disagreement_zero_when_members_agree():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(5, 30)).astype(np.float32)
    c = union_topn([s, s], 10)
    assert np.allclose(fusion.disagreement(normalised_scores([s, s], c)), 0.0)
    assert fusion.disagreement(normalised_scores([s, -s], c)).mean() > 0.5
    assert full_ranks(s, c).min() == 0


def test_in_topk_marks_k_per_query():
    s = np.array([[3, 2, 1, 0], [0, 1, 2, 3]], np.float32)
    c = union_topn([s], 4)
    mask = in_topk(c, s[c.rows, c.items], 2)
    assert mask.reshape(2, 4).tolist() == [[True, True, False, False], [False, False, True, True]]
