"""Explanations: which of the user's history items drive a recommendation, as data and a sentence.

``because`` lists the history items with the largest positive contribution to the item's
score (see ``contrib``: exact item-item weights, item-vector cosine or leave-one-out), with
``weight`` = the item's share of the positive contributions (0..1). ``genres`` are the
recommended item's genres that it shares with those history items (else with the user's
three most-watched genres), most-watched first. The sentence reads, e.g.
"Because you rated Heat 5★ and Casino 4.5★, and like Crime" or "Because you watched Up".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cinesync.serving.engine.catalog import CatalogArrays
from cinesync.serving.engine.schemas import BecauseItem, Explanation

#: history items listed in ``because`` / named in the sentence / shared genres shown
MAX_BECAUSE = 3
MAX_NAMED = 2
MAX_GENRES = 2
#: a contributor is listed only if its contribution is at least this share of the top one
MIN_RELATIVE = 0.2


def format_rating(r: float) -> str:
    """4.5 -> "4.5★", 5.0 -> "5★"."""
    return f"{float(r):g}★"


@dataclass(frozen=True)
class HistoryView:
    """The user's distinct history items (latest rating each) and genre profile, for explanations.

    items: (H,) distinct item indices in order of last occurrence. ratings: aligned, None = unrated.
    profile: (n_genres,) rating-weighted genre counts over the history.
    """

    items: np.ndarray
    ratings: tuple[float | None, ...]
    profile: np.ndarray

    @classmethod
    def build(cls, items: np.ndarray, ratings: list[float | None], cat: CatalogArrays) -> HistoryView:
        """From the resolved history (indices with aligned ratings, time order, may repeat)."""
        last: dict[int, float | None] = {}
        for i, r in zip(items.tolist(), ratings, strict=True):
            last.pop(i, None)
            last[i] = r
        idx = np.fromiter(last.keys(), np.int64, count=len(last))
        rats = tuple(last.values())
        known = [r for r in rats if r is not None]
        top = max(known) if known else 1.0
        w = np.asarray([1.0 if r is None else max(r, 0.0) / max(top, 1e-9) for r in rats], np.float64)
        profile = (cat.genre_bool[idx].T.astype(np.float64) @ w) if len(idx) else np.zeros(len(cat.genre_names))
        return cls(idx, rats, profile)

    def top_genres(self, n: int = 3) -> np.ndarray:
        """Column indices of the ``n`` most-watched genres (weight > 0)."""
        order = np.argsort(-self.profile, kind="stable")[:n]
        return order[self.profile[order] > 0]


def _phrase(title: str, rating: float | None, prev_verb: str | None) -> tuple[str, str]:
    verb = "watched" if rating is None else "rated"
    obj = title if rating is None else f"{title} {format_rating(rating)}"
    return (obj if verb == prev_verb else f"{verb} {obj}"), verb


def sentence(because: list[BecauseItem], genres: list[str], fallback: str) -> str:
    """ "Because you rated A 5★ and watched B, and like Crime" (or ``fallback`` when empty)."""
    named = because[:MAX_NAMED]
    phrases, verb = [], None
    for b in named:
        p, verb = _phrase(b.title, b.rating, verb)
        phrases.append(p)
    liked = " and ".join(genres)
    if phrases:
        text = "Because you " + " and ".join(phrases)
        return f"{text}, and like {liked}" if liked else text
    return f"Because you like {liked}" if liked else fallback


def explain_targets(contrib: np.ndarray, targets: np.ndarray, hv: HistoryView, cat: CatalogArrays,
                    fallback: str = "Recommended for you") -> list[Explanation]:
    """One Explanation per target. contrib: (len(targets), len(hv.items)) contributions.

    Vectorised over targets: this runs on every request.
    """
    targets = np.asarray(targets, np.int64)
    n_t, n_h = len(targets), len(hv.items)
    item_g = cat.genre_bool[targets]  # (T, G)
    because_rows: list[list[tuple[int, float]]] = [[] for _ in range(n_t)]  # (history position, weight)
    if n_h and n_t:
        pos = np.clip(np.asarray(contrib, np.float64).reshape(n_t, n_h), 0.0, None)
        total = pos.sum(axis=1)
        order = np.argsort(-pos, axis=1, kind="stable")[:, :MAX_BECAUSE]  # (T, <=3)
        top = pos[np.arange(n_t)[:, None], order]
        valid = (top > 0) & (top >= MIN_RELATIVE * top[:, :1])
        contrib_g = (cat.genre_bool[hv.items[order]] & valid[:, :, None]).any(axis=1)  # (T, G)
        share = top / np.where(total > 0, total, 1.0)[:, None]
        for r, (o_row, s_row, v_row) in enumerate(zip(order.tolist(), share.tolist(), valid.tolist(), strict=True)):
            because_rows[r] = [(c, w) for c, w, v in zip(o_row, s_row, v_row, strict=True) if v]
    else:
        contrib_g = np.zeros_like(item_g)
    has_contrib = np.asarray([bool(b) for b in because_rows], bool)
    fallback_g = np.zeros(len(cat.genre_names), bool)
    fallback_g[hv.top_genres()] = True
    shared = item_g & np.where(has_contrib[:, None], contrib_g, fallback_g[None, :]) & (hv.profile > 0)[None, :]
    ranked = np.argsort(-hv.profile, kind="stable")
    names = [cat.genre_names[j] for j in ranked.tolist()]
    items = hv.items.tolist()
    out = []
    for b_row, g_row in zip(because_rows, shared[:, ranked].tolist(), strict=True):
        because = [BecauseItem(item_id=cat.item_ids[items[c]], title=cat.titles[items[c]], rating=hv.ratings[c],
                               weight=round(w, 4)) for c, w in b_row]
        genres = [g for g, keep in zip(names, g_row, strict=True) if keep][:MAX_GENRES]
        out.append(Explanation(text=sentence(because, genres, fallback), because=because, genres=genres))
    return out


def popular_explanation(i: int, cat: CatalogArrays, text: str = "Popular with viewers") -> Explanation:
    """For cold-start / discovery lists: no history to point at, name the item's first genre."""
    g = list(cat.genres[i][:1])
    return Explanation(text=f"{text} in {g[0]}" if g else text, because=[], genres=g)


def similar_explanation(source: int, cat: CatalogArrays, shared: list[str]) -> Explanation:
    """ "Similar to Heat" with the source item as the single contributor."""
    b = BecauseItem(item_id=cat.item_ids[source], title=cat.titles[source], rating=None, weight=1.0)
    return Explanation(text=f"Similar to {cat.titles[source]}", because=[b], genres=shared)
