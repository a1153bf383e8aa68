"""Per-(query, candidate) feature matrix for the learned ranker. Vectorised over all candidates.

Groups: member scores / full ranks / per-query z-scores; agreement (votes, rank spread);
item statistics from train (log popularity, release year, genre overlap with the history);
user activity; and, when timestamps exist, time context (cyclic hour / weekday of the user's
last interaction, days since it, item age and recent popularity at query time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.ranking.candidates import Candidates, full_ranks, gather

DAY = 86_400.0
RECENT_DAYS = 90.0
N_LAST = 3  # latest history items whose co-occurrence with the candidate is a feature
WINDOW = 3  # transitions: an item "follows" another when it comes at most this many steps later
CONTEXT = ("hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "log_days_since_last", "log_item_age_days",
           "log_pop_recent")


@dataclass
class ItemStats:
    """What features need from the training data, saved with the model.

    pop / pop_recent / year / first_ts: (n_items,) float64; genres: (n_items, n_genres) float32;
    max_ts: latest training timestamp (NaN without timestamps); item_users: (n_items, n_users)
    binary CSR of the training matrix (co-occurrence with the user's latest items); transitions:
    (n_items, n_items) CSR, row i = how often each item followed i within ``WINDOW`` steps of a
    training sequence (weight 1/distance), row-normalised to probabilities.
    """

    pop: np.ndarray
    pop_recent: np.ndarray
    year: np.ndarray
    first_ts: np.ndarray
    genres: np.ndarray
    max_ts: float
    item_users: sp.csr_matrix
    transitions: sp.csr_matrix

    @classmethod
    def from_train(cls, train: Interactions) -> ItemStats:
        m = train.n_items
        pop = np.bincount(train.item, minlength=m).astype(np.float64)
        year = np.asarray(train.catalog.column("year").astype("float64"), np.float64)
        if np.isfinite(year).any():
            year = np.where(np.isfinite(year), year, np.nanmedian(year))
        else:
            year = np.zeros(m)
        genres = train.catalog.genre_matrix.toarray().astype(np.float32)
        if train.timestamp is not None and len(train):
            ts = train.timestamp.astype(np.float64)
            max_ts = float(ts.max())
            first = np.full(m, np.inf)
            np.minimum.at(first, train.item, ts)
            first[~np.isfinite(first)] = max_ts
            recent = ts >= max_ts - RECENT_DAYS * DAY
            pop_recent = np.bincount(train.item[recent], minlength=m).astype(np.float64)
        else:
            max_ts, first, pop_recent = float("nan"), np.zeros(m), np.zeros(m)
        return cls(pop, pop_recent, year, first, genres, max_ts, sp.csr_matrix(train.csr().T, dtype=np.float32),
                   transition_matrix(train.histories(), m))

    def state(self, prefix: str = "stats__") -> dict[str, object]:
        out: dict[str, object] = {f"{prefix}{k}": np.asarray(getattr(self, k)) for k in
                                  ("pop", "pop_recent", "year", "first_ts", "genres", "max_ts")}
        out[f"{prefix}item_users"] = self.item_users
        out[f"{prefix}transitions"] = self.transitions
        return out

    @classmethod
    def from_state(cls, arrays: dict, prefix: str = "stats__") -> ItemStats:
        get = (lambda k: np.asarray(arrays[f"{prefix}{k}"]))
        return cls(get("pop"), get("pop_recent"), get("year"), get("first_ts"), get("genres"), float(get("max_ts")),
                   sp.csr_matrix(arrays[f"{prefix}item_users"]), sp.csr_matrix(arrays[f"{prefix}transitions"]))

    @property
    def has_time(self) -> bool:
        return bool(np.isfinite(self.max_ts))


def feature_names(n_members: int, context: bool) -> list[str]:
    """Column names of ``build_features`` output, in order."""
    names = [f"m{j}_{kind}" for j in range(n_members) for kind in ("score", "rank", "z")]
    names += ["votes", "rank_spread", "z_mean", "log_pop", "year", "genre_overlap", "log_hist_len"]
    names += [f"cos_last{j + 1}" for j in range(N_LAST)] + ["cos_last_mean", "year_gap_recent"]
    names += [f"trans_last{j + 1}" for j in range(N_LAST)] + ["trans_sum"]
    return names + (list(CONTEXT) if context else [])


def _row_zscore(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    cnt = np.maximum(np.bincount(rows, minlength=n), 1)
    mean = np.bincount(rows, weights=values, minlength=n) / cnt
    var = np.bincount(rows, weights=values**2, minlength=n) / cnt - mean**2
    return (values - mean[rows]) / np.sqrt(np.maximum(var, 1e-12))[rows]


def normalised_scores(member_scores: list[np.ndarray], cands: Candidates) -> np.ndarray:
    """(nnz, n_members) per-query z-scores of each member's score over the query's candidates."""
    rows = cands.rows
    cols = [_row_zscore(np.nan_to_num(gather(s, cands).astype(np.float64), neginf=-1e9), rows, len(cands))
            for s in member_scores]
    return np.stack(cols, axis=1) if cols else np.zeros((len(rows), 0))


def transition_matrix(history: HistoryBatch, n_items: int, window: int = WINDOW) -> sp.csr_matrix:
    """(n_items, n_items) row-normalised CSR of i -> j transitions within ``window`` steps (weight 1/distance)."""
    rows, cols, vals = [], [], []
    pos_user = np.repeat(np.arange(len(history)), history.lengths)
    for d in range(1, window + 1):
        a = np.arange(len(history.items) - d)
        same = pos_user[a] == pos_user[a + d]
        rows.append(history.items[a[same]])
        cols.append(history.items[a[same] + d])
        vals.append(np.full(int(same.sum()), 1.0 / d, np.float32))
    t = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n_items, n_items), dtype=np.float32)
    t.sum_duplicates()
    total = np.asarray(t.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(total, 1e-9)) @ t, dtype=np.float32)


def recent_item(history: HistoryBatch, j: int) -> tuple[np.ndarray, np.ndarray]:
    """((n,) bool: the query has a j-th most recent item, (n,) int64: that item, 0 where it has none)."""
    has = history.lengths > j
    last = np.zeros(len(history), np.int64)
    last[has] = history.items[history.indptr[1:][has] - 1 - j]
    return has, last


def _with_recent(history: HistoryBatch, cands: Candidates,
                 pair: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """(nnz, N_LAST): column j = ``pair(last, rows)`` for the query's j-th most recent item (0 = none), where
    ``last`` (n,) holds that item per query and ``rows`` (nnz,) the query of each candidate."""
    out = np.zeros((len(cands.rows), N_LAST))
    for j in range(N_LAST):
        has, last = recent_item(history, j)
        if not has.any():
            break
        out[:, j] = np.where(has[cands.rows], pair(last, cands.rows), 0.0)
    return out


def transition_scores(history: HistoryBatch, cands: Candidates, stats: ItemStats) -> np.ndarray:
    """(nnz, N_LAST) probability that the candidate follows each of the query's last items (0 = none)."""
    return _with_recent(history, cands,
                        lambda last, rows: np.asarray(stats.transitions[last[rows], cands.items]).ravel())


def recent_similarity(history: HistoryBatch, cands: Candidates, stats: ItemStats) -> np.ndarray:
    """(nnz, N_LAST) cosine co-occurrence (train users) of each candidate with the query's last items (0 = none)."""
    items = cands.items

    def cosine(last: np.ndarray, rows: np.ndarray) -> np.ndarray:
        co = stats.item_users[last] @ stats.item_users.T  # (n, n_items) co-occurrence counts
        vals = np.asarray(co[rows, items]).ravel()
        return vals / np.sqrt(np.maximum(stats.pop[last][rows] * stats.pop[items], 1.0))

    return _with_recent(history, cands, cosine)


def context_of(history: HistoryBatch, stats: ItemStats) -> dict[str, np.ndarray]:
    """(n,) per-query time context from the history's timestamps: last time, hour, weekday, query time."""
    n = len(history)
    lens = history.lengths
    if history.timestamps is None or not stats.has_time:
        nan = np.full(n, np.nan)
        return {"last": nan, "now": nan}
    ts = history.timestamps.astype(np.float64)
    last = np.full(n, np.nan)
    has = lens > 0
    last[has] = ts[history.indptr[1:][has] - 1]
    now = max(stats.max_ts, float(ts.max()) if len(ts) else stats.max_ts)
    last = np.where(np.isfinite(last), last, now)
    return {"last": last, "now": np.full(n, now)}


def build_features(member_scores: list[np.ndarray], cands: Candidates, history: HistoryBatch,
                   stats: ItemStats, context: bool = True, n_per_member: int = 100) -> np.ndarray:
    """(nnz, n_features) float32 features (columns as ``feature_names``), all finite.

    member_scores: (n, n_items) masked member scores for the same queries as ``history``.
    """
    rows, items = cands.rows, cands.items
    n = len(cands)
    raw = [np.nan_to_num(gather(s, cands).astype(np.float64), neginf=-1e9, posinf=1e9) for s in member_scores]
    ranks = [full_ranks(s, cands).astype(np.float64) for s in member_scores]
    z = normalised_scores(member_scores, cands)
    cols: list[np.ndarray] = []
    for j in range(len(member_scores)):
        cols += [raw[j], ranks[j], z[:, j]]
    rk = np.stack(ranks, axis=1)
    cols.append((rk < n_per_member).sum(axis=1).astype(np.float64))
    cols.append(np.log1p(rk).std(axis=1))
    cols.append(z.mean(axis=1))
    cols.append(np.log1p(stats.pop[items]))
    cols.append(stats.year[items])
    hist = history.to_csr(len(stats.pop))
    lens = history.lengths.astype(np.float64)
    profile = np.asarray(hist @ stats.genres) / np.maximum(lens, 1.0)[:, None]  # (n, n_genres) genre shares
    g_items = stats.genres[items]
    overlap = (profile[rows] * g_items).sum(axis=1) / np.maximum(g_items.sum(axis=1), 1.0)
    cols.append(overlap)
    cols.append(np.log1p(lens)[rows])
    sim = recent_similarity(history, cands, stats)
    cols += [sim[:, j] for j in range(N_LAST)]
    cols.append(sim.mean(axis=1))
    tail = np.minimum(lens, N_LAST).astype(np.int64)
    if len(history.items):
        pos = np.repeat(history.indptr[1:] - tail, tail) + (np.arange(tail.sum()) - np.repeat(np.cumsum(tail) - tail,
                                                                                                tail))
        yr = np.bincount(np.repeat(np.arange(n), tail), weights=stats.year[history.items[pos]], minlength=n)
        recent_year = np.where(tail > 0, yr / np.maximum(tail, 1), np.nan)
    else:
        recent_year = np.full(n, np.nan)
    cols.append(np.abs(stats.year[items] - recent_year[rows]))
    trans = transition_scores(history, cands, stats)
    cols += [trans[:, j] for j in range(N_LAST)]
    cols.append(trans.sum(axis=1))
    if context:
        ctx = context_of(history, stats)
        last, now = ctx["last"], ctx["now"]
        if np.isfinite(now).all() and n:
            hour = (last % DAY) / 3600.0
            weekday = ((last // DAY) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
            per_row = [np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
                       np.sin(2 * np.pi * weekday / 7), np.cos(2 * np.pi * weekday / 7),
                       np.log1p(np.maximum(now - last, 0.0) / DAY)]
            cols += [c[rows] for c in per_row]
            cols.append(np.log1p(np.maximum(now[rows] - stats.first_ts[items], 0.0) / DAY))
        else:
            cols += [np.zeros(len(rows))] * 6
        cols.append(np.log1p(stats.pop_recent[items]))
    out = np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((0, 0), np.float32)
    return np.nan_to_num(out, nan=0.0, posinf=1e9, neginf=-1e9)
