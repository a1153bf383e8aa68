"""Known-answer checks of the classical models against direct (dense, textbook) computations.

Fast checks run on small synthetic data; the ml-latest-small comparisons (EASE vs
``np.linalg.inv``, ItemKNN vs dense cosine, ALS/BPR vs the raw ``implicit`` models) are
marked slow + realdata.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cinesync.data.synthetic import planted, power_law
from cinesync.errors import DataError
from cinesync.models import FitContext, create
from cinesync.models.biasedmf import ridge_rows
from cinesync.ranking import recommend


@pytest.fixture(scope="module")
def small():
    """120 users x 60 items, skewed popularity; every item and user present."""
    return power_law(120, 60, 1500, seed=3).reindexed()


def dense_cosine(x: np.ndarray, shrink: float) -> np.ndarray:
    """(n_items, n_items) shrunk cosine of the columns of dense ``x``, zero diagonal."""
    norms = np.sqrt((x * x).sum(axis=0))
    sim = (x.T @ x) / (np.outer(norms, norms) + shrink + 1e-12)
    np.fill_diagonal(sim, 0.0)
    return sim


def ease_reference(gram: np.ndarray, l2: float) -> np.ndarray:
    """Steck (2019) verbatim: B = I - P diag(1/diag(P)), P = (X^T X + l2 I)^-1, float64."""
    p = np.linalg.inv(gram + l2 * np.eye(len(gram)))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


# ---- fast known-answer checks -------------------------------------------------
def test_ease_solvers_agree_with_textbook(small) -> None:
    x = small.csr().toarray().astype(np.float64)
    h = small.histories()
    ref = x @ ease_reference(x.T @ x, 30.0)
    for cfg in ({"solver": "primal"}, {"solver": "dual"}, {"sparse_k": small.n_items}):
        got = create("ease", {"l2": 30.0, **cfg}).fit(small).score(h)
        np.testing.assert_allclose(got, ref, atol=1e-5, err_msg=str(cfg))


def test_ease_sparse_and_top_items_variants(small) -> None:
    h = small.histories()
    pruned = create("ease", {"l2": 30.0, "sparse_k": 5}).fit(small)
    assert pruned.b_sparse_.getnnz(axis=0).max() <= 5
    top = create("ease", {"l2": 30.0, "max_items": 20}).fit(small)
    kept = np.sort(np.argsort(-small.item_counts(), kind="stable")[:20])
    np.testing.assert_array_equal(top.keep_, kept)
    x = small.csr().toarray()[:, kept].astype(np.float64)
    s = top.score(h)
    np.testing.assert_allclose(s[:, kept], x @ ease_reference(x.T @ x, 30.0), atol=1e-5)
    others = np.setdiff1d(np.arange(small.n_items), kept)
    assert (s[:, others].max(axis=1) < s[:, kept].min(axis=1)).all()


def test_itemknn_matches_dense_cosine(small) -> None:
    x = small.csr().toarray().astype(np.float64)
    sim = dense_cosine(x, 3.0)
    full = create("itemknn", {"k": small.n_items, "shrink": 3.0}).fit(small)
    np.testing.assert_allclose(full.score(small.histories()), x @ sim, atol=1e-5)
    pruned = create("itemknn", {"k": 7, "shrink": 3.0}).fit(small).similarity_.toarray()
    for j in range(small.n_items):  # column j keeps the 7 largest similarities (tie-robust check)
        kept = np.sort(pruned[:, j][pruned[:, j] > 0])[::-1]
        np.testing.assert_allclose(kept, np.sort(sim[:, j])[::-1][: len(kept)], rtol=1e-5)
        assert len(kept) == min(7, int((sim[:, j] > 0).sum()))


def test_rp3beta_matches_dense_formula(small) -> None:
    x = small.csr().toarray().astype(np.float64)
    alpha, beta = 0.8, 0.3
    p_ui = (x / x.sum(axis=1, keepdims=True)) ** alpha
    p_iu = (x.T / x.T.sum(axis=1, keepdims=True)) ** alpha
    w = (p_iu @ p_ui) / x.sum(axis=0)[None, :] ** beta
    np.fill_diagonal(w, 0.0)
    model = create("rp3beta", {"alpha": alpha, "beta": beta, "k": small.n_items}).fit(small)
    np.testing.assert_allclose(model.score(small.histories()), x @ w, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("direction,recency", [("forward", 1.0), ("both", 0.0)])
def test_seqrules_matches_loop_formula(small, direction: str, recency: float) -> None:
    """Pair weights by plain loops over each time-ordered history, then the documented normalisation."""
    window, alpha, beta = 4, 0.7, 0.4
    hist = small.histories()
    m = small.n_items
    c = np.zeros((m, m))
    for u in range(len(hist)):
        seq = hist.row(u)
        for p in range(len(seq)):
            for d in range(1, window + 1):
                if p + d < len(seq) and seq[p] != seq[p + d]:
                    c[seq[p], seq[p + d]] += 1.0 / d
                    if direction == "both":
                        c[seq[p + d], seq[p]] += 1.0 / d
    mass, pop = c.sum(axis=1), np.bincount(small.item, minlength=m).astype(np.float64)
    w = c / np.where(mass > 0, mass, 1.0)[:, None] ** alpha / np.maximum(pop, 1.0)[None, :] ** beta
    expected = np.zeros((len(hist), m))
    for u in range(len(hist)):
        seq = hist.row(u)
        for p, item in enumerate(seq):
            expected[u] += w[item] / (1.0 + len(seq) - 1 - p) ** recency
    model = create("seqrules", {"window": window, "direction": direction, "alpha": alpha, "beta": beta,
                                "recency": recency, "k": m}).fit(small)
    np.testing.assert_allclose(model.score(hist), expected, rtol=1e-4, atol=1e-7)


def test_seqrules_forward_only_predicts_what_comes_next() -> None:
    import pandas as pd

    from cinesync.data.dataset import Interactions

    frame = pd.DataFrame({"user": [0, 0, 1, 1, 2, 2], "item": ["a", "b", "a", "b", "c", "a"],
                          "timestamp": [1, 2, 1, 2, 1, 2]})
    data = Interactions.from_frame(frame)
    a, b, c = data.items.indices(np.array(["a", "b", "c"]))
    fwd = create("seqrules", {"window": 1, "direction": "forward"}).fit(data)
    both = create("seqrules", {"window": 1, "direction": "both"}).fit(data)
    from cinesync.data.history import HistoryBatch

    after_b = HistoryBatch.from_lists([[b]])
    assert fwd.score(after_b)[0, a] == 0.0  # nobody watched a after b
    assert both.score(after_b)[0, a] > 0.0
    after_a = fwd.score(HistoryBatch.from_lists([[a]]))[0]
    assert after_a[b] > 0.0 and after_a[c] == 0.0


def test_userknn_matches_dense_formula(small) -> None:
    x = small.csr().toarray().astype(np.float64)
    norms = np.sqrt(x.sum(axis=1))
    sim = (x @ x.T) / (np.outer(norms, norms) + 2.0)
    np.fill_diagonal(sim, 0.0)  # known users are not their own neighbours
    model = create("userknn", {"k": small.n_users, "shrink": 2.0}).fit(small)
    np.testing.assert_allclose(model.score(small.histories()), sim @ x, rtol=1e-5, atol=1e-6)


def test_als_fold_in_solves_the_user_equation(small) -> None:
    model = create("als", {"factors": 6, "iterations": 3, "alpha": 4.0, "regularization": 0.5}).fit(small)
    y = model.item_factors_.astype(np.float64)
    h = small.histories(np.arange(5))
    got = model.user_factors(h)
    for i in range(5):
        yh = y[h.row(i)]
        a = y.T @ y + 3.0 * yh.T @ yh + 0.5 * np.eye(6)  # C = 4 on history items
        np.testing.assert_allclose(got[i], np.linalg.solve(a, 4.0 * yh.sum(axis=0)), rtol=1e-3, atol=1e-5)


def test_bpr_fold_in_is_ridge_regression(small) -> None:
    model = create("bpr", {"factors": 6, "iterations": 5, "foldin_regularization": 0.5}).fit(small)
    v = model.item_factors_.astype(np.float64)
    lam = 0.5 * (v * v).sum() / v.shape[1]
    h = small.histories(np.arange(5))
    want = np.linalg.solve(v.T @ v + lam * np.eye(v.shape[1]), v.T @ h.to_csr(small.n_items).toarray().T).T
    np.testing.assert_allclose(model.user_factors(h), want, rtol=1e-3, atol=1e-5)


def test_ridge_rows_matches_direct_solves() -> None:
    rng = np.random.default_rng(0)
    import scipy.sparse as sp

    t = sp.random(30, 40, density=0.2, random_state=1, format="csr") * 5.0
    z = rng.normal(size=(40, 4))
    pen = rng.uniform(0.1, 1.0, size=(30, 4))
    got = ridge_rows(z, t, pen)
    for r in range(30):
        cols = t.indices[t.indptr[r]: t.indptr[r + 1]]
        want = np.linalg.solve(z[cols].T @ z[cols] + np.diag(pen[r]), z[cols].T @ t.data[t.indptr[r]: t.indptr[r + 1]])
        np.testing.assert_allclose(got[r], want, rtol=1e-6, atol=1e-9)


def test_biasedmf_predicts_ratings() -> None:
    data = planted(seed=1)
    model = create("biasedmf", {"factors": 4, "iterations": 10}).fit(data)
    h = data.histories()
    pred = model.predict(h, data.item, data.user)
    rmse = np.sqrt(np.mean((pred - data.rating) ** 2))
    assert rmse < 0.6 * data.rating.std()  # in-block ratings are 4-or-5 coin flips: ~0.5 is irreducible
    grid = model.predict(h, np.tile(np.arange(3), (len(h), 1)))
    assert grid.shape == (len(h), 3)
    np.testing.assert_allclose(grid, model.score(h)[:, :3].clip(1, 5), rtol=1e-5)
    with pytest.raises(DataError, match="ratings"):
        create("biasedmf").fit(data.with_ratings(None))


# ---- ml-latest-small ------------------------------------------------------------
@pytest.fixture(scope="module")
def ml_split():
    from cinesync.data.loaders import load_dataset
    from cinesync.data.splits import ratio

    s = ratio(load_dataset("ml-latest-small"), (0.8, 0.0, 0.2), seed=0)
    return s.train, s.test


@pytest.mark.slow
@pytest.mark.realdata
def test_ease_matches_np_linalg_inv_on_movielens(ml_split) -> None:
    train, _ = ml_split
    h = train.histories(np.arange(0, train.n_users, 3))
    x = train.csr().astype(np.float64)
    ref = h.to_csr(train.n_items).toarray() @ ease_reference((x.T @ x).toarray(), 200.0)
    got = create("ease", {"l2": 200.0}).fit(train).score(h)  # "auto" -> dual (610 users)
    np.testing.assert_allclose(got, ref, atol=1e-4)


@pytest.mark.slow
@pytest.mark.realdata
def test_itemknn_matches_dense_cosine_on_movielens(ml_split) -> None:
    train, _ = ml_split
    x = train.csr().toarray().astype(np.float64)
    sim = dense_cosine(x, 10.0)
    model = create("itemknn", {"k": 100, "shrink": 10.0}).fit(train)
    s = model.similarity_.tocsc()
    for j in np.flatnonzero(train.item_counts() > 0)[::7]:
        kept = np.sort(s.data[s.indptr[j]: s.indptr[j + 1]])[::-1]
        np.testing.assert_allclose(kept, np.sort(sim[:, j])[::-1][: len(kept)], rtol=1e-5, atol=1e-7)


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("name", ["als", "bpr"])
def test_factor_models_agree_with_implicit(ml_split, name) -> None:
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    train, _ = ml_split
    x = train.csr()
    ours = create(name).fit(train, FitContext(seed=7))
    c = ours.config
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if name == "als":
            raw = AlternatingLeastSquares(factors=c.factors, regularization=c.regularization, alpha=c.alpha,
                                          iterations=c.iterations, num_threads=c.num_threads, random_state=7)
        else:
            raw = BayesianPersonalizedRanking(factors=c.factors, learning_rate=c.learning_rate,
                                              regularization=c.regularization, iterations=c.iterations,
                                              num_threads=1, random_state=7)
        raw.fit(x, show_progress=False)
    users = np.arange(train.n_users)
    raw_top, _ = raw.recommend(users, x, N=10, filter_already_liked_items=True)
    our_top, _ = recommend(ours.score(train.histories()), 10, exclude=x)
    np.testing.assert_allclose(ours.item_factors_, raw.item_factors, rtol=1e-5, atol=1e-6)
    overlap = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(raw_top, our_top, strict=True)])
    assert overlap > (0.8 if name == "als" else 0.3), overlap
