"""Watch party: turn each member's scores into predicted satisfaction and pick a fair shared list.

Satisfaction: every member's (context-adjusted) scores over the group's candidate pool are
turned into rank percentiles, 0 = the member's worst item in the pool, 1 = their favourite.
Percentiles (rather than min-max) put members on the same scale whatever their score spread,
so one member's outlier score cannot dominate, and "0.9" means "in my top 10 % of the pool".

Strategies (over an (n_members, P) satisfaction matrix):
- average: highest mean satisfaction.
- least_misery: highest minimum satisfaction (max of min), ties broken by the mean; an item
  any member dislikes is only chosen when no alternative remains.
- fair: greedy sequential selection. Each step adds the item maximising
  ``mean_m s[m, i] + (min_m (cum[m] + s[m, i]) - min_m cum[m])``, i.e. its average appeal plus how
  much it lifts the currently least-satisfied member's running total ``cum``. Members who
  lost out so far get the next picks; over the list everyone's mean evens out.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from cinesync.ranking.lists import rank_by

STRATEGIES = ("average", "least_misery", "fair")


def percentile_satisfaction(scores: np.ndarray) -> np.ndarray:
    """(M, P) rank percentiles in 0..1 per row (ties share their average rank); P == 1 -> ones."""
    s = np.asarray(scores, np.float64)
    m, p = s.shape
    if p <= 1:
        return np.ones((m, p))
    return (rankdata(s, axis=1, method="average") - 1.0) / (p - 1.0)


def select(sat: np.ndarray, k: int, strategy: str) -> np.ndarray:
    """Positions (into the pool) of the ``min(k, P)`` items ``strategy`` picks, in order."""
    sat = np.asarray(sat, np.float64)
    m, p = sat.shape
    k = min(int(k), p)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown group strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if k <= 0 or m == 0:
        return np.zeros(0, np.int64)
    mean = sat.mean(axis=0)
    if strategy == "average":
        return rank_by(mean, sat.min(axis=0), k=k)
    if strategy == "least_misery":
        return rank_by(sat.min(axis=0), mean, k=k)
    cum = np.zeros(m)
    picked = np.zeros(p, bool)
    out = np.empty(k, np.int64)
    for step in range(k):
        gain = (cum[:, None] + sat).min(axis=0) - cum.min()
        value = mean + gain
        value[picked] = -np.inf
        i = int(np.argmax(value))
        out[step] = i
        picked[i] = True
        cum += sat[:, i]
    return out
