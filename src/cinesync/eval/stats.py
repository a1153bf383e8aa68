"""Uncertainty and significance for per-user metric vectors.

* ``mean_ci``: bootstrap percentile CI of a mean (NaN users dropped).
* ``paired_test``: Wilcoxon signed-rank and paired t-test between two models on the same users.
* ``holm``: Holm-Bonferroni adjustment for a family of p-values.
* ``compare_to_best``: the usual results-table question, "which models are significantly
  worse than the best one?", with Holm correction over the family of comparisons.
* ``summary`` / ``summarise``: {"mean", "lo", "hi", "n"} of one vector / of a dict of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as st

from cinesync.errors import DataError

__all__ = ["mean_ci", "paired_test", "holm", "compare_to_best", "summary", "summarise"]


def mean_ci(x: np.ndarray, alpha: float = 0.05, n_boot: int = 1000, seed: int = 0,
            chunk_elems: int = 2_000_000) -> tuple[float, float, float]:
    """(mean, lo, hi): mean of ``x`` (NaNs dropped) and its bootstrap percentile (1 - alpha) CI.

    Vectorised: resamples are drawn as (chunk, n) index matrices, never one Python loop per
    resample. When ``x`` has few distinct values (hit rates, precision), the equivalent
    multinomial draw over distinct values is used instead (same bootstrap distribution, far
    cheaper for 100k users). Empty input gives NaNs; one value gives a zero-width interval.
    """
    if not 0.0 < alpha < 1.0:
        raise DataError(f"alpha must be in (0, 1), got {alpha}")
    if n_boot < 1:
        raise DataError(f"n_boot must be >= 1, got {n_boot}")
    x = np.asarray(x, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if n == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    values, counts = np.unique(x, return_counts=True)
    if values.size * 8 <= n:
        draws = rng.multinomial(n, counts / n, size=n_boot)  # (n_boot, n_distinct)
        boot = draws @ values / n
    else:
        boot = np.empty(n_boot)
        step = max(1, chunk_elems // n)
        for s in range(0, n_boot, step):
            m = min(step, n_boot - s)
            boot[s:s + m] = x[rng.integers(0, n, size=(m, n))].mean(axis=1)
    lo, hi = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0])
    return mean, float(lo), float(hi)


def paired_test(a: np.ndarray, b: np.ndarray) -> dict[str, float | int]:
    """Paired tests of a vs b over users where both are non-NaN.

    Returns {"wilcoxon_p", "ttest_p", "mean_diff" (mean of a - b), "n" (pairs used)}.
    Wilcoxon uses zero_method="wilcox" (zero differences dropped). If every difference is
    zero both p-values are 1.0; with fewer than two pairs (or no non-zero difference left)
    the affected p-value is NaN, except for the all-zero case.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise DataError(f"paired vectors must cover the same users: {a.size} vs {b.size} entries")
    ok = ~(np.isnan(a) | np.isnan(b))
    d = a[ok] - b[ok]
    n = int(d.size)
    out: dict[str, float | int] = {"wilcoxon_p": float("nan"), "ttest_p": float("nan"),
                                   "mean_diff": float(d.mean()) if n else float("nan"), "n": n}
    if n and not np.any(d):
        out["wilcoxon_p"] = out["ttest_p"] = 1.0
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # near-constant differences warn; the p-value is still right
        if n >= 2:
            out["ttest_p"] = float(st.ttest_rel(a[ok], b[ok]).pvalue)
        if np.count_nonzero(d) >= 1:
            out["wilcoxon_p"] = float(st.wilcoxon(d, zero_method="wilcox").pvalue)
    return out


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in input order: monotone in the raw p and clipped at 1.

    adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)) over the m non-NaN p-values sorted
    ascending; NaN inputs stay NaN and do not count towards m.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not ok.size:
        return out
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise DataError(f"p-values must lie in [0, 1], got {p[ok][(p[ok] < 0) | (p[ok] > 1)][:5].tolist()}")
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def compare_to_best(per_user: Mapping[str, np.ndarray], higher_is_better: bool = True,
                    alpha: float = 0.05) -> tuple[str, dict[str, dict[str, float | bool | int]]]:
    """Test every model against the best one (by NaN-dropped mean), Holm-corrected over the family.

    per_user: {model name: (n_users,) metric vector}, all over the same users in the same order.
    Returns (best_name, {other name: {"wilcoxon_p", "wilcoxon_p_holm", "ttest_p", "ttest_p_holm",
    "mean_diff" (other - best), "n", "significant" (wilcoxon_p_holm < alpha)}}); the best model
    is not in the dict. Ties for best go to the first name in ``per_user``.
    """
    if not per_user:
        raise DataError("compare_to_best needs at least one model")
    names = list(per_user)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN vectors -> NaN mean
        means = np.array([np.nanmean(np.asarray(per_user[k], dtype=np.float64)) for k in names])
    if np.all(np.isnan(means)):
        raise DataError(f"every model's metric is all NaN: {names}")
    key = np.where(np.isnan(means), -np.inf, means if higher_is_better else -means)
    best = names[int(np.argmax(key))]
    others = [k for k in names if k != best]
    tests = [paired_test(per_user[k], per_user[best]) for k in others]
    w_adj = holm([t["wilcoxon_p"] for t in tests])
    t_adj = holm([t["ttest_p"] for t in tests])
    result: dict[str, dict[str, float | bool | int]] = {}
    for k, t, w, tt in zip(others, tests, w_adj, t_adj, strict=True):
        result[k] = {"wilcoxon_p": t["wilcoxon_p"], "wilcoxon_p_holm": float(w), "ttest_p": t["ttest_p"],
                     "ttest_p_holm": float(tt), "mean_diff": t["mean_diff"], "n": t["n"],
                     "significant": bool(w < alpha)}
    return best, result


def summary(x: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """{"mean", "lo", "hi", "n"}: the mean of ``x`` with its bootstrap 95 % CI and the count of finite values."""
    mean, lo, hi = mean_ci(x, n_boot=n_boot, seed=seed)
    return {"mean": mean, "lo": lo, "hi": hi, "n": int(np.isfinite(x).sum())}


def summarise(per_user: Mapping[str, np.ndarray], mask: np.ndarray | None = None, seed: int = 0) -> dict[str, dict]:
    """``summary`` of every per-user vector in ``per_user``, over the users in ``mask`` (default all)."""
    return {name: summary(v if mask is None else v[mask], seed=seed) for name, v in per_user.items()}
