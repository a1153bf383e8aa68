"""The Engine: history in, ranked items out — the in-memory core of the live service.

``recommend`` maps the user's history (external ids; items unknown to the model are ignored
and logged at debug level) to indices, scores it with ONE ``model.score`` call on a one-row
``HistoryBatch``, masks what must not be shown (history, blocked, ``req.exclude``, filters:
domain, genres any-of, exclude_genres, year range, availability, context hard rules),
cuts a candidate pool of ``max(POOL_FACTOR * k, MIN_POOL)`` items, adjusts it by context
(``final = z(score) + boosts``, see ``context``), re-ranks it with MMR (``diversity``;
similarity = cosine of ``item_vectors`` if given, else of genre rows), cuts to k and explains
each item (``explain``). An empty history is a cold start: popularity, diversified across
genres, never an error. No database access: the caller passes the current ``UserState``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from cinesync.data.arrays import unit_rows
from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch, UserState
from cinesync.errors import ConfigError
from cinesync.models.base import Recommender
from cinesync.ranking import mask_items, topk
from cinesync.ranking.diversity import mmr
from cinesync.ranking.lists import rank_by
from cinesync.ranking.quota import mix_select, mix_topk
from cinesync.serving.engine import discovery, group
from cinesync.serving.engine.catalog import CatalogArrays
from cinesync.serving.engine.context import ContextRules, resolve, standardise
from cinesync.serving.engine.contrib import LeaveOneOutSource, contribution_source
from cinesync.serving.engine.explain import HistoryView, explain_targets, popular_explanation, similar_explanation
from cinesync.serving.engine.schemas import (
    BecauseItem,
    Context,
    Explanation,
    GroupResult,
    Recommendation,
    RecRequest,
    RecResult,
    SearchHit,
)

__all__ = ["BecauseItem", "Context", "Engine", "Explanation", "GroupResult", "RecRequest", "RecResult",
           "Recommendation", "SearchHit", "UserState"]

log = logging.getLogger(__name__)

POOL_FACTOR = 10
MIN_POOL = 50
#: cold-start lists are diversified across genres at least this much
COLD_DIVERSITY = 0.5
MAX_K = 100


@dataclass(frozen=True)
class ResolvedHistory:
    """A UserState resolved to item indices (known items only, time order)."""

    items: np.ndarray
    ratings: list[float | None]
    blocked: np.ndarray
    batch: HistoryBatch | None


class Engine:
    """Serve recommendations from a fitted ``model`` and its training snapshot ``data``.

    item_vectors: optional (n_items, d) embeddings for diversity (cosine); availability:
    item_id -> {(provider, region)}; clock: returns "now" for context defaults (tests fix it).
    """

    def __init__(self, model: Recommender, data: Interactions, item_vectors: np.ndarray | None = None,
                 availability: dict[str, set[tuple[str, str]]] | None = None, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        n = model.n_items_
        if n is None:
            raise ConfigError(f"Engine: model {model.name!r} is not fitted")
        if n != data.n_items:
            raise ConfigError(f"Engine: model {model.name!r} has {n} items but the data has {data.n_items}; "
                              "pass the snapshot the model was trained on")
        self.model = model
        self.data = data
        self.cat = CatalogArrays(data, availability)
        self.rules = ContextRules(self.cat)
        self.source = contribution_source(model, n)
        if item_vectors is not None:
            item_vectors = np.asarray(item_vectors)
            if item_vectors.ndim != 2 or item_vectors.shape[0] != n:
                raise ConfigError(f"Engine: item_vectors must be ({n}, d), got {item_vectors.shape}")
            self.vectors: np.ndarray | None = unit_rows(item_vectors)
        else:
            self.vectors = None
        self.sim_vectors = self.vectors if self.vectors is not None else self.cat.genre_unit
        self.search_index = discovery.TitleSearch(self.cat)
        self.clock = clock or datetime.now
        fill = self.cat.global_mean
        self._default_rating = fill if np.isfinite(fill) else 1.0
        log.info("engine ready: %s over %d items, explanations by %s", model.name, n, self.source.kind)

    # ---- resolving inputs ------------------------------------------------
    def _index(self, item_id: str) -> int:
        return self.cat.items.index(item_id)

    def resolve_history(self, state: UserState) -> ResolvedHistory:
        """``state`` as item indices (known items in time order), ratings, blocked items and the one-row batch."""
        idx = self.cat.items.indices(state.history, missing="minus1")
        known = idx >= 0
        if not known.all():
            log.debug("ignoring %d history items unknown to the model: %s", int((~known).sum()),
                      [h for h, k in zip(state.history, known, strict=True) if not k][:10])
        order = np.argsort(np.asarray(state.timestamps, np.float64), kind="stable")
        order = order[known[order]]
        items = idx[order].astype(np.int32)
        ratings = [state.ratings[i] for i in order.tolist()]
        blocked = self.cat.items.indices(state.blocked, missing="drop").astype(np.int64)
        if len(items) == 0:
            return ResolvedHistory(items, ratings, blocked, None)
        known_r = [r for r in ratings if r is not None]
        fill = float(np.mean(known_r)) if known_r else self._default_rating
        r = np.asarray([fill if x is None else x for x in ratings], np.float32)
        ts = np.asarray(state.timestamps, np.float64)[order].astype(np.int64)
        batch = HistoryBatch(np.asarray([0, len(items)], np.int64), items, np.asarray([-1], np.int32), r, ts)
        return ResolvedHistory(items, ratings, blocked, batch)

    def _candidates(self, req: RecRequest, ctx: Context, fired: list[int],
                    available: np.ndarray | None) -> np.ndarray:
        """(n_items,) bool mask of items passing the request's filters and the context's hard rules."""
        cat = self.cat
        m = cat.domain_masks[req.domain].copy()
        if req.genres:
            m &= cat.has_any_genre(cat.genre_columns(req.genres))
        if req.exclude_genres:
            m &= ~cat.has_any_genre(cat.genre_columns(req.exclude_genres))
        if req.year_min is not None:
            m &= cat.years >= req.year_min
        if req.year_max is not None:
            m &= cat.years <= req.year_max
        if available is not None:
            m &= available
        keep = self.rules.keep_mask(ctx, fired)
        if keep is not None:
            m &= keep
        m[self.cat.items.indices(req.exclude)] = False  # UnknownIdError names an unknown id
        return m

    def _recommendation(self, i: int, score: float, explanation: Explanation,
                        reasons: list[str] | None = None) -> Recommendation:
        cat = self.cat
        rt = cat.runtime[i]
        return Recommendation(
            item_id=cat.item_ids[i], title=cat.titles[i], year=cat.year_of[i], genres=list(cat.genres[i]),
            domain=str(cat.domain[i]), overview=cat.overview[i], runtime=None if np.isnan(rt) else float(rt),
            score=float(score), explanation=explanation, context_reasons=reasons or [])

    # ---- personal recommendations -----------------------------------------
    def recommend(self, state: UserState, req: RecRequest | None = None) -> list[Recommendation]:
        """The top ``req.k`` items for this user now, explained (see module docstring)."""
        return self.recommend_full(state, req).items

    def recommend_full(self, state: UserState, req: RecRequest | None = None) -> RecResult:
        """``recommend`` plus the resolved context and the context rules that fired."""
        req = req or RecRequest()
        ctx = resolve(req.context, self.clock())
        fired = self.rules.fired(ctx)
        hist = self.resolve_history(state)
        available = self.cat.available_mask(state.providers, state.region) if req.available_only else None
        allowed = self._candidates(req, ctx, fired, available)
        allowed[hist.items] = False
        allowed[hist.blocked] = False
        cold = hist.batch is None
        full = None
        if cold:
            scores = self.cat.popularity.astype(np.float32)
        else:
            scores = self.model.score(hist.batch)[0]
            if isinstance(self.source, LeaveOneOutSource):
                full = scores.copy()
        scores = np.where(np.isnan(scores), -np.inf, scores).astype(np.float32)
        mask_items(scores[None, :], allowed=allowed)
        pool_n = min(max(POOL_FACTOR * req.k, MIN_POOL), self.cat.n)
        idx, vals = (topk(scores[None, :], pool_n) if req.tv_share is None
                     else mix_topk(scores[None, :], self.cat.domain, pool_n, tv_share=req.tv_share))
        ok = idx[0] >= 0
        pool, raw = idx[0][ok], vals[0][ok]
        boost, applied, boost_ids = self.rules.boosts(fired, pool)
        rel = standardise(raw) + boost
        diversity = max(req.diversity, COLD_DIVERSITY) if cold else req.diversity
        if req.tv_share is None:
            pos = mmr(rel, self.sim_vectors[pool], req.k, diversity)
        else:  # MMR within films and within series, interleaved at the requested share
            pos = mix_select(self.cat.is_tv[pool], req.k, req.tv_share,
                             lambda sub, q: sub[mmr(rel[sub], self.sim_vectors[pool[sub]], q, diversity)], rel)
        chosen = pool[pos]
        if cold:
            expl = [popular_explanation(i, self.cat) for i in chosen.tolist()]
        else:
            hv = HistoryView.build(hist.items, hist.ratings, self.cat)
            contrib = self.source.contributions(hv.items, chosen, hist.batch, full)
            expl = explain_targets(contrib, chosen, hv, self.cat)
        items = []
        for p, i, e in zip(pos.tolist(), chosen.tolist(), expl, strict=True):
            reasons = [self.rules.rules[j].reason for c, j in enumerate(boost_ids) if applied[p, c]]
            items.append(self._recommendation(i, rel[p], e, reasons))
        return RecResult(items=items, context=ctx, context_reasons=self.rules.reasons(fired), cold_start=cold)

    def explain(self, state: UserState, item_id: str) -> Explanation:
        """Why ``item_id`` suits this user (works for any item, recommended or not)."""
        t = np.asarray([self._index(item_id)])
        hist = self.resolve_history(state)
        if hist.batch is None:
            return popular_explanation(int(t[0]), self.cat)
        full = self.model.score(hist.batch)[0] if isinstance(self.source, LeaveOneOutSource) else None
        hv = HistoryView.build(hist.items, hist.ratings, self.cat)
        return explain_targets(self.source.contributions(hv.items, t, hist.batch, full), t, hv, self.cat)[0]

    # ---- item-based lists ------------------------------------------------
    def _check(self, k: int, domain: str) -> None:
        if not 1 <= int(k) <= MAX_K:
            raise ValueError(f"k must be in 1..{MAX_K}, got {k}")
        if domain not in ("movie", "tv", "all"):
            raise ValueError(f"domain must be 'movie', 'tv' or 'all', got {domain!r}")

    def similar(self, item_id: str, k: int = 10, domain: str = "all") -> list[Recommendation]:
        """Items most similar to ``item_id`` in the model's space (fallback: item vectors, then genres)."""
        self._check(k, domain)
        i = self._index(item_id)
        genre_sim = self.cat.genre_unit @ self.cat.genre_unit[i]
        neigh = self.source.neighbours(i)
        if neigh is None:
            neigh = self.vectors @ self.vectors[i] if self.vectors is not None else genre_sim
        allowed = self.cat.domain_masks[domain].copy()
        allowed[i] = False
        order = rank_by(neigh, genre_sim, self.cat.popularity, allowed=allowed, k=k)
        src_genres = set(self.cat.genres[i])
        return [self._recommendation(j, neigh[j], similar_explanation(
            i, self.cat, [g for g in self.cat.genres[j] if g in src_genres][:2])) for j in order.tolist()]

    def trending(self, k: int = 10, domain: str = "all", now: float | None = None,
                 half_life_days: float = 30.0) -> list[Recommendation]:
        """Time-decayed popularity (half-life in days) as of ``now`` (default: newest event in the data)."""
        self._check(k, domain)
        s = discovery.trending_scores(self.cat, now, half_life_days)
        return self._top_list(s, k, domain, "Trending now")

    def hidden_gems(self, k: int = 10, domain: str = "all", min_ratings: int = 10,
                    max_quantile: float = 0.5) -> list[Recommendation]:
        """Highly rated but little-seen items (see ``discovery.hidden_gem_scores``)."""
        self._check(k, domain)
        s = discovery.hidden_gem_scores(self.cat, min_ratings, max_quantile)
        out = self._top_list(s, k, domain, "Hidden gem")
        for r in out:
            i = self._index(r.item_id)
            r.explanation.text = (f"Hidden gem: rated {self.cat.mean_rating[i]:.1f} on average by "
                                  f"{int(self.cat.counts[i])} people")
        return out

    def _top_list(self, s: np.ndarray, k: int, domain: str, text: str) -> list[Recommendation]:
        s = np.asarray(s, np.float64).copy()
        s[~self.cat.domain_masks[domain] | ~(s > 0)] = -np.inf
        idx, vals = topk(s[None, :], k)
        return [self._recommendation(i, v, popular_explanation(i, self.cat, text))
                for i, v in zip(idx[0].tolist(), vals[0].tolist(), strict=True) if i >= 0]

    def search(self, q: str, k: int = 10, domain: str = "all") -> list[SearchHit]:
        """Fuzzy title search (rapidfuzz); empty query -> ValueError."""
        self._check(k, domain)
        idx, score = self.search_index.search(q, k, self.cat.domain_masks[domain])
        return [SearchHit(item_id=self.cat.item_ids[i], title=self.cat.titles[i], year=self.cat.year_of[i],
                          domain=str(self.cat.domain[i]), score=round(float(s), 2))
                for i, s in zip(idx.tolist(), score.tolist(), strict=True)]

    def onboarding(self, genres: list[str], k: int = 12, domain: str = "all") -> list[Recommendation]:
        """Well-known titles to rate first, balanced across ``genres`` (empty = all, diversified)."""
        self._check(k, domain)
        allowed = self.cat.domain_masks[domain]
        cols = self.cat.genre_columns(genres)
        if len(cols):
            chosen = discovery.onboarding_items(self.cat, cols, k, allowed)
        else:
            pop = np.where(allowed & (self.cat.counts > 0), self.cat.popularity, -np.inf)
            idx, vals = topk(pop[None, :].astype(np.float64), min(POOL_FACTOR * k, self.cat.n))
            pool = idx[0][idx[0] >= 0]
            chosen = pool[mmr(vals[0][: len(pool)], self.sim_vectors[pool], k, COLD_DIVERSITY)]
        return [self._recommendation(i, float(self.cat.counts[i]), popular_explanation(i, self.cat, "Well known"))
                for i in chosen.tolist()]

    def genres(self) -> list[str]:
        """The catalogue's genre names, sorted."""
        return list(self.cat.genre_names)

    # ---- watch party -------------------------------------------------------
    def group(self, members: dict[str, UserState], req: RecRequest | None = None,
              strategy: Literal["average", "least_misery", "fair"] = "fair") -> GroupResult:
        """A shared list for ``members`` (see ``cinesync.serving.engine.group`` for satisfaction and strategies).

        All members are scored in ONE ``model.score`` call (empty histories get popularity). Items any
        member has seen or blocked are excluded; with ``available_only`` an item must be on some
        member's providers. The pool is the union of every member's top ``max(10k, 50)``; context
        boosts are added to each member's standardised scores before they become satisfaction.
        ``req.diversity`` is not used: the strategy decides the order.
        """
        if not members:
            raise ValueError("group needs at least one member")
        if strategy not in group.STRATEGIES:
            raise ValueError(f"unknown group strategy {strategy!r}; expected one of {', '.join(group.STRATEGIES)}")
        req = req or RecRequest()
        ctx = resolve(req.context, self.clock())
        fired = self.rules.fired(ctx)
        names = list(members)
        hists = [self.resolve_history(members[m]) for m in names]
        available = None
        if req.available_only:
            available = np.zeros(self.cat.n, bool)
            for m in names:
                available |= self.cat.available_mask(members[m].providers, members[m].region)
        allowed = self._candidates(req, ctx, fired, available)
        for h in hists:
            allowed[h.items] = False
            allowed[h.blocked] = False
        batch = HistoryBatch.from_lists([h.items.tolist() for h in hists])
        scores = self.model.score(batch)
        for r, h in enumerate(hists):
            if h.batch is None:
                scores[r] = self.cat.popularity
        scores = np.where(np.isnan(scores), -np.inf, scores)
        mask_items(scores, allowed=allowed)
        idx, _ = topk(scores, min(max(POOL_FACTOR * req.k, MIN_POOL), self.cat.n))
        pool = np.unique(idx[idx >= 0])
        if len(pool) == 0:
            return GroupResult(items=[], satisfaction={m: [] for m in names}, mean={m: 0.0 for m in names},
                               strategy=strategy, context_reasons=self.rules.reasons(fired))
        boost, _, _ = self.rules.boosts(fired, pool)
        adjusted = np.stack([standardise(scores[r, pool]) + boost for r in range(len(names))])
        sat = group.percentile_satisfaction(adjusted)
        pos = group.select(sat, req.k, strategy)
        chosen = pool[pos]
        items = []
        for p, i in zip(pos.tolist(), chosen.tolist(), strict=True):
            text = "Group match: " + ", ".join(f"{m} {sat[r, p]:.0%}" for r, m in enumerate(names))
            e = Explanation(text=text, because=[], genres=list(self.cat.genres[i][:2]))
            items.append(self._recommendation(i, float(sat[:, p].mean()), e))
        satisfaction = {m: [round(float(x), 4) for x in sat[r, pos]] for r, m in enumerate(names)}
        mean = {m: float(np.mean(v)) if v else 0.0 for m, v in satisfaction.items()}
        return GroupResult(items=items, satisfaction=satisfaction, mean=mean, strategy=strategy,
                           context_reasons=self.rules.reasons(fired))

