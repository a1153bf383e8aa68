"""Lists that need no personal history: trending, hidden gems, onboarding picks and title search.

- trending: time-decayed popularity, each interaction weighted ``0.5 ** (age_days / half_life)``
  with age measured from ``now`` (default: the newest timestamp in the data; events after
  ``now`` are ignored). Without timestamps it is plain popularity.
- hidden gems: items rated by at least ``min_ratings`` people but no more popular than the
  ``max_quantile`` quantile (default median) of those items' rating counts, ranked by their
  mean rating shrunk toward the global mean: ``(n * mean + m * global) / (n + m)``, m = min_ratings.
- onboarding: the most-rated titles, taken round-robin across the chosen genres so each gets
  an equal share.
- search: rapidfuzz WRatio (token_sort_ratio for titles shorter than the query) of the query
  against each title, "title (year)" (queries with a digit) and the title with a trailing article moved to the front
  ("Matrix, The" -> "The Matrix"); best of the three, 0..100, ties broken by popularity.
"""

from __future__ import annotations

import re

import numpy as np
from rapidfuzz import fuzz, process, utils

from cinesync.ranking.lists import rank_by
from cinesync.serving.engine.catalog import CatalogArrays

_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<art>The|A|An|Les|La|Le|L'|Il|Die|Der|Das|El|Los|Las)$")


def trending_scores(cat: CatalogArrays, now: float | None = None, half_life_days: float = 30.0) -> np.ndarray:
    """(n_items,) float64 time-decayed interaction counts."""
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    if cat.timestamps is None or len(cat.timestamps) == 0:
        return cat.counts.astype(np.float64)
    ts = cat.timestamps.astype(np.float64)
    ref = float(ts.max()) if now is None else float(now)
    age_days = (ref - ts) / 86400.0
    w = np.where(age_days >= 0, 0.5 ** (np.maximum(age_days, 0.0) / half_life_days), 0.0)
    return np.bincount(cat.item_rows, weights=w, minlength=cat.n)


def hidden_gem_scores(cat: CatalogArrays, min_ratings: int = 10, max_quantile: float = 0.5) -> np.ndarray:
    """(n_items,) shrunk mean rating of eligible items, -inf elsewhere (see module docstring)."""
    if not 0.0 < max_quantile <= 1.0:
        raise ValueError(f"max_quantile must be in (0, 1], got {max_quantile}")
    out = np.full(cat.n, -np.inf)
    rated = (cat.counts >= max(int(min_ratings), 1)) & np.isfinite(cat.mean_rating)
    if not rated.any():
        return out
    cap = np.quantile(cat.counts[rated], max_quantile)
    ok = rated & (cat.counts <= cap)
    n = cat.counts[ok].astype(np.float64)
    m = float(max(int(min_ratings), 1))
    out[ok] = (n * cat.mean_rating[ok] + m * cat.global_mean) / (n + m)
    return out


def onboarding_items(cat: CatalogArrays, genre_cols: np.ndarray, k: int, allowed: np.ndarray) -> np.ndarray:
    """Most-rated allowed items, round-robin over ``genre_cols`` (each item at most once)."""
    by_count = rank_by(cat.counts, allowed=allowed & (cat.counts > 0))
    queues = [by_count[cat.genre_bool[by_count, c]].tolist() for c in genre_cols.tolist()]
    heads = [0] * len(queues)
    chosen: list[int] = []
    seen: set[int] = set()
    while len(chosen) < k and any(h < len(q) for h, q in zip(heads, queues, strict=True)):
        for g, q in enumerate(queues):
            while heads[g] < len(q) and q[heads[g]] in seen:
                heads[g] += 1
            if heads[g] < len(q) and len(chosen) < k:
                i = q[heads[g]]
                chosen.append(i)
                seen.add(i)
                heads[g] += 1
    return np.asarray(chosen, np.int64)


def _front_article(title: str) -> str:
    m = _TRAILING_ARTICLE.match(title)
    if not m:
        return title
    art = m["art"]
    return f"{art}{m['rest']}" if art.endswith("'") else f"{art} {m['rest']}"


class TitleSearch:
    """Fuzzy title search over a catalogue; choice strings are pre-processed once."""

    def __init__(self, cat: CatalogArrays) -> None:
        self.cat = cat
        titles = cat.titles
        with_year = [t if y is None else f"{t} ({y})" for t, y in zip(titles, cat.year_of, strict=True)]
        fronted = [_front_article(t) for t in titles]
        moved = np.flatnonzero([f != t for f, t in zip(fronted, titles, strict=True)])
        # (item indices or None = all items, processed strings, their lengths, only for queries with digits)
        self.variants: list[tuple[np.ndarray | None, list[str], np.ndarray, bool]] = []
        for idx, strings, digits_only in ((None, titles, False), (None, with_year, True),
                                           (moved, [fronted[i] for i in moved.tolist()], False)):
            proc = [utils.default_process(t) for t in strings]
            self.variants.append((idx, proc, np.fromiter(map(len, proc), np.int64, count=len(proc)), digits_only))

    def search(self, q: str, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(item indices, scores 0..100) of the ``k`` best matches among ``allowed`` items.

        WRatio rewards a query found inside a longer title ("matrix" in "The Matrix Reloaded");
        for titles shorter than the query that partial match would let "Go" match "godfater", so
        there the whole-string token_sort_ratio is used instead. "title (year)" is only tried
        when the query has a digit.
        """
        if not isinstance(q, str) or not q.strip():
            raise ValueError("search query must not be empty")
        query = utils.default_process(q)
        if not query:
            raise ValueError(f"search query {q!r} has no letters or digits")
        has_digit = any(ch.isdigit() for ch in query)
        score = np.zeros(self.cat.n, np.float64)
        for idx, choices, lengths, digits_only in self.variants:
            if (digits_only and not has_digit) or not choices:
                continue
            w = process.cdist([query], choices, scorer=fuzz.WRatio, dtype=np.float32)[0]
            short = np.flatnonzero(lengths < len(query))
            if len(short):
                w[short] = process.cdist([query], [choices[i] for i in short.tolist()],
                                         scorer=fuzz.token_sort_ratio, dtype=np.float32)[0]
            target = score if idx is None else score[idx]
            np.maximum(target, w, out=target)
            if idx is not None:
                score[idx] = target
        score[~allowed] = -1.0
        order = rank_by(score, self.cat.popularity, allowed=score > 0, k=k)
        return order, score[order]
