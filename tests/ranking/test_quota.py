"""Domain-mix control for unified lists: quotas, interleaving, shortfall filling, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cinesync.errors import ConfigError, DataError
from cinesync.ranking.quota import domain_quota, mix_topk

DOM = np.array(["movie"] * 10 + ["tv"] * 10 + ["other"] * 2)


def _scores(n: int = 4, seed: int = 0) -> np.ndarray:
    s = np.random.default_rng(seed).random((n, len(DOM))).astype(np.float32)
    s[:, :10] += 1.0  # films all score above series: a plain top-k would hold no TV at all
    return s


def test_tv_share_gives_exact_counts_and_best_of_each_domain() -> None:
    s = _scores()
    top, vals = mix_topk(s, DOM, 10, tv_share=0.3)
    assert ((DOM[top] == "tv").sum(axis=1) == 3).all()
    for r in range(len(s)):
        tv = np.flatnonzero(DOM == "tv")
        best_tv = set(tv[np.argsort(-s[r, tv])[:3]].tolist())
        assert set(top[r][DOM[top[r]] == "tv"].tolist()) == best_tv
        rest = np.flatnonzero(DOM != "tv")
        assert set(top[r][DOM[top[r]] != "tv"].tolist()) == set(rest[np.argsort(-s[r, rest])[:7]].tolist())
    np.testing.assert_array_equal(vals, np.take_along_axis(s, top, axis=1))


def test_interleaving_spreads_the_minority_domain() -> None:
    top, _ = mix_topk(_scores(), DOM, 10, tv_share=0.3)
    # TV keys 1/6, 1/2, 5/6; non-TV keys (j + .5) / 7; the tie at 1/2 goes to the higher-scored film
    np.testing.assert_array_equal(np.flatnonzero(DOM[top[0]] == "tv"), [1, 5, 8])
    # within each domain, items keep score order
    s = _scores()[0]
    for d in ("tv",):
        chosen = top[0][DOM[top[0]] == d]
        assert (np.diff(s[chosen]) <= 0).all()


def test_share_extremes_and_explicit_quota() -> None:
    s = _scores()
    assert (DOM[mix_topk(s, DOM, 5, tv_share=0.0)[0]] != "tv").all()
    assert (DOM[mix_topk(s, DOM, 5, tv_share=1.0)[0]] == "tv").all()
    top, _ = mix_topk(s, DOM, 6, quota={"movie": 2, "tv": 4})
    assert ((DOM[top] == "movie").sum(1) == 2).all() and ((DOM[top] == "tv").sum(1) == 4).all()


def test_shortfall_is_filled_from_other_domains() -> None:
    s = _scores(2)
    seen = np.zeros((2, len(DOM)), np.float32)
    seen[:, 10:18] = 1  # only 2 TV items left per user
    top, _ = mix_topk(s, DOM, 10, tv_share=0.5, exclude=sp.csr_matrix(seen))
    assert (top >= 0).all()
    assert ((DOM[top] == "tv").sum(1) == 2).all()
    assert not np.isin(top, np.arange(10, 18)).any()
    # fewer candidates than k: padded with -1
    allowed = np.zeros(len(DOM), bool)
    allowed[[0, 1, 12]] = True
    top, vals = mix_topk(s, DOM, 5, tv_share=0.4, allowed=allowed)
    assert set(top[0][top[0] >= 0].tolist()) == {0, 1, 12}
    assert (top[:, 3:] == -1).all() and np.isneginf(vals[:, 3:]).all()


def test_input_is_not_modified() -> None:
    s = _scores()
    before = s.copy()
    mix_topk(s, DOM, 10, tv_share=0.3, exclude=sp.csr_matrix(np.ones_like(s)))
    np.testing.assert_array_equal(s, before)


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_tv_share_out_of_range(share: float) -> None:
    with pytest.raises(ConfigError, match=r"tv_share must be in \[0, 1\]"):
        mix_topk(_scores(), DOM, 10, tv_share=share)


def test_bad_inputs() -> None:
    s = _scores()
    with pytest.raises(ConfigError, match="exactly one"):
        mix_topk(s, DOM, 10)
    with pytest.raises(ConfigError, match="exactly one"):
        domain_quota(10, 0.5, {"tv": 10})
    with pytest.raises(ConfigError, match="sum to k=10"):
        mix_topk(s, DOM, 10, quota={"movie": 3, "tv": 3})
    with pytest.raises(ConfigError, match="quota domains"):
        mix_topk(s, DOM, 2, quota={"anime": 2})
    with pytest.raises(DataError, match="item domains must be among"):
        mix_topk(s, np.array(["film"] * len(DOM)), 10, tv_share=0.3)
    with pytest.raises(DataError, match="domains has 3 entries"):
        mix_topk(s, DOM[:3], 10, tv_share=0.3)
    with pytest.raises(ConfigError, match="k must be >= 1"):
        mix_topk(s, DOM, 0, tv_share=0.3)
