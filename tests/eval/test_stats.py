"""Bootstrap CIs, paired tests and Holm correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from cinesync.eval.stats import compare_to_best, holm, mean_ci, paired_test, summarise


def test_mean_ci_contains_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.random(100), rng.random(10_000)
    m, lo, hi = mean_ci(small)
    assert lo < m < hi and m == pytest.approx(small.mean())
    _, lo2, hi2 = mean_ci(large)
    assert (hi2 - lo2) < (hi - lo) / 5  # width ~ 1 / sqrt(n): 10x narrower
    assert mean_ci(small, seed=3) == mean_ci(small, seed=3)


@pytest.mark.parametrize("binary", [False, True])
def test_mean_ci_width_matches_normal_approximation(binary: bool) -> None:
    rng = np.random.default_rng(1)
    x = (rng.random(5000) < 0.3).astype(float) if binary else rng.normal(size=5000)  # both code paths
    _, lo, hi = mean_ci(x, n_boot=2000)
    half = 1.96 * x.std() / math.sqrt(x.size)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)
    assert lo < x.mean() < hi


def test_mean_ci_nan_and_degenerate() -> None:
    m, lo, hi = mean_ci(np.array([1.0, np.nan, 3.0, np.nan]))
    assert m == 2.0 and 1.0 <= lo <= hi <= 3.0
    assert all(math.isnan(v) for v in mean_ci(np.array([np.nan])))
    assert mean_ci(np.array([0.4])) == (0.4, 0.4, 0.4)


def test_paired_test_matches_scipy() -> None:
    a = np.array([0.9, 0.7, 0.8, 0.5, 0.6, 0.95, 0.3, 0.65])
    b = np.array([0.6, 0.72, 0.5, 0.45, 0.2, 0.7, 0.31, 0.4])
    got = paired_test(np.append(a, np.nan), np.append(b, 0.5))  # NaN pair dropped
    assert got["n"] == 8
    assert got["wilcoxon_p"] == pytest.approx(st.wilcoxon(a, b, zero_method="wilcox").pvalue)
    assert got["ttest_p"] == pytest.approx(st.ttest_rel(a, b).pvalue)
    assert got["mean_diff"] == pytest.approx(np.mean(a - b))


def test_paired_test_identical_vectors() -> None:
    x = np.array([0.1, 0.5, 0.9, np.nan])
    got = paired_test(x, x)
    assert got["wilcoxon_p"] == 1.0 and got["ttest_p"] == 1.0 and got["mean_diff"] == 0.0 and got["n"] == 3


def test_holm_textbook_example() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone: 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # clipped at 1
    np.testing.assert_allclose(holm([0.02, np.nan, 0.01]), [0.02, np.nan, 0.02])  # NaN ignored, m = 2
    assert holm([]).size == 0


def test_compare_to_best() -> None:
    rng = np.random.default_rng(2)
    base = rng.random(300)
    per_user = {
        "worse": base - 0.1 + rng.normal(0, 0.01, 300),
        "best": base,
        "same": base + rng.normal(0, 0.05, 300) - 0.001,
    }
    best, res = compare_to_best(per_user)
    assert best == "best" and set(res) == {"worse", "same"}
    assert res["worse"]["significant"] and res["worse"]["mean_diff"] < 0
    assert not res["same"]["significant"]
    raw = [paired_test(per_user[k], base)["wilcoxon_p"] for k in ("worse", "same")]
    np.testing.assert_allclose([res["worse"]["wilcoxon_p_holm"], res["same"]["wilcoxon_p_holm"]], holm(raw))
    assert compare_to_best(per_user, higher_is_better=False)[0] == "worse"
    assert compare_to_best({"only": base}) == ("only", {})


def test_summarise_gives_ci() -> None:
    v = {"recall@10": np.array([0.0, 1.0, 0.5, np.nan])}
    s = summarise(v)["recall@10"]
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.5) and s["lo"] <= 0.5 <= s["hi"]
    assert summarise(v, mask=np.array([True, False, False, False]))["recall@10"]["mean"] == 0.0
