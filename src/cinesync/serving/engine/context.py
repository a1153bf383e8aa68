"""Context rules: who you watch with, your mood, your time and device adjust the ranking.

The rules are an explicit table (``CONTEXT_RULES``), not learned, so the effect of every
context field is predictable and can be shown to the user:

| when                      | effect                                                               |
|---------------------------|----------------------------------------------------------------------|
| company = family          | drop genres containing Horror / Hentai / Ecchi; +0.75 Animation,      |
|                           | Children, Family, Kids; -0.5 Thriller                                 |
| company = partner         | +0.5 Romance, Comedy                                                  |
| company = friends         | +0.5 Comedy, Action                                                   |
| mood = happy              | +0.75 Comedy, Animation, Musical                                      |
| mood = sad                | +0.75 Drama                                                           |
| mood = thrilling          | +0.75 Thriller, Action, Crime                                         |
| mood = relaxed            | +0.75 Comedy, Documentary, Slice of Life                              |
| mood = romantic           | +0.75 Romance                                                         |
| mood = scary              | +0.75 Horror                                                          |
| mood = thoughtful         | +0.75 Drama, Documentary, Mystery, Sci-Fi / Science Fiction           |
| time_budget = m minutes   | drop items whose known runtime > m (unknown runtime kept; TV items    |
|                           | always fit a budget >= 25 min: one episode)                           |
| hour 0-5 or >= 22 (late)  | +0.25 short items (runtime <= 100 min, or TV)                         |
| device = phone            | +0.3 TV items; +0.2 short items                                       |

Genre names match case-insensitively by substring, so one table serves MovieLens ("Children"),
TMDB ("Family") and anime ("Kids", "Slice of Life") catalogues. Boosts are in units of pool
standard deviations: ``final = z(score) + sum(boosts)`` with ``z`` the standardised model score
over the candidate pool, so "+0.75" moves an item up by three quarters of a standard deviation
whatever the model's score scale. Exclusions are hard filters applied before the pool is cut.
hour / weekday default to the server clock; weekday has no rule yet (it is resolved and
reported so future rules and logs can use it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from cinesync.serving.engine.catalog import CatalogArrays
from cinesync.serving.engine.schemas import Context

#: runtime (minutes) at or under which an item counts as "short"
SHORT_RUNTIME_MIN = 100.0
#: a TV item (one episode) fits any time budget of at least this many minutes
EPISODE_MIN = 25
LATE_HOURS = frozenset({0, 1, 2, 3, 4, 5, 22, 23})

Effect = Literal["exclude_genres", "boost_genres", "boost_short", "boost_tv", "max_runtime"]


@dataclass(frozen=True)
class ContextRule:
    """One row of the table: if ``field`` has ``value`` then apply ``effect`` (see module docstring).

    value "late" (hour) means hours 0-5 or >= 22; value "any" (time_budget) means any value set.
    amount: the boost in pool standard deviations (negative = push down).
    """

    field: str
    value: str
    effect: Effect
    genres: tuple[str, ...] = ()
    amount: float = 0.0
    reason: str = ""

    def matches(self, ctx: Context) -> bool:
        v = getattr(ctx, self.field)
        if v is None:
            return False
        if self.value == "late":
            return int(v) in LATE_HOURS
        if self.value == "any":
            return True
        return str(v) == self.value


CONTEXT_RULES: tuple[ContextRule, ...] = (
    ContextRule("company", "family", "exclude_genres", ("Horror", "Hentai", "Ecchi"),
                reason="family viewing: no horror or adult titles"),
    ContextRule("company", "family", "boost_genres", ("Animation", "Children", "Family", "Kids"), 0.75,
                reason="family viewing: animation and family titles first"),
    ContextRule("company", "family", "boost_genres", ("Thriller",), -0.5, reason="family viewing: fewer thrillers"),
    ContextRule("company", "partner", "boost_genres", ("Romance", "Comedy"), 0.5,
                reason="with your partner: romance and comedy"),
    ContextRule("company", "friends", "boost_genres", ("Comedy", "Action"), 0.5,
                reason="with friends: comedy and action"),
    ContextRule("mood", "happy", "boost_genres", ("Comedy", "Animation", "Musical"), 0.75,
                reason="happy mood: comedy, animation and musicals"),
    ContextRule("mood", "sad", "boost_genres", ("Drama",), 0.75, reason="sad mood: drama"),
    ContextRule("mood", "thrilling", "boost_genres", ("Thriller", "Action", "Crime"), 0.75,
                reason="in for thrills: thriller, action and crime"),
    ContextRule("mood", "relaxed", "boost_genres", ("Comedy", "Documentary", "Slice of Life"), 0.75,
                reason="relaxed mood: comedy, documentaries, slice of life"),
    ContextRule("mood", "romantic", "boost_genres", ("Romance",), 0.75, reason="romantic mood: romance"),
    ContextRule("mood", "scary", "boost_genres", ("Horror",), 0.75, reason="scary mood: horror"),
    ContextRule("mood", "thoughtful", "boost_genres", ("Drama", "Documentary", "Mystery", "Sci-Fi", "Science Fiction"),
                0.75, reason="thoughtful mood: drama, documentaries, mystery and sci-fi"),
    ContextRule("time_budget", "any", "max_runtime", reason="fits your time budget"),
    ContextRule("hour", "late", "boost_short", amount=0.25, reason="late: shorter titles first"),
    ContextRule("device", "phone", "boost_tv", amount=0.3, reason="on a phone: series episodes first"),
    ContextRule("device", "phone", "boost_short", amount=0.2, reason="on a phone: shorter titles first"),
)


def resolve(ctx: Context, now: datetime | None = None) -> Context:
    """``ctx`` with hour / weekday filled from ``now`` (default: the local clock) where None."""
    if ctx.hour is not None and ctx.weekday is not None:
        return ctx
    now = now or datetime.now()
    return ctx.model_copy(update={"hour": now.hour if ctx.hour is None else ctx.hour,
                                  "weekday": now.weekday() if ctx.weekday is None else ctx.weekday})


def standardise(scores: np.ndarray) -> np.ndarray:
    """z-scores of a pool's scores (float64); a constant pool gives zeros."""
    s = np.asarray(scores, np.float64)
    if len(s) == 0:
        return s
    sd = s.std()
    return (s - s.mean()) / sd if sd > 1e-12 else np.zeros_like(s)


class ContextRules:
    """``CONTEXT_RULES`` compiled against one catalogue: an (n_items,) mask per rule, computed once."""

    def __init__(self, cat: CatalogArrays, rules: tuple[ContextRule, ...] = CONTEXT_RULES) -> None:
        self.rules = rules
        self.cat = cat
        short = (cat.runtime <= SHORT_RUNTIME_MIN) | cat.is_tv
        self.masks: list[np.ndarray | None] = []
        for r in rules:
            if r.effect in ("exclude_genres", "boost_genres"):
                self.masks.append(cat.has_any_genre(cat.genre_columns_matching(r.genres)))
            elif r.effect == "boost_short":
                self.masks.append(short)
            elif r.effect == "boost_tv":
                self.masks.append(cat.is_tv)
            else:
                self.masks.append(None)

    def fired(self, ctx: Context) -> list[int]:
        """Indices of the rules whose condition holds for (resolved) ``ctx``."""
        return [j for j, r in enumerate(self.rules) if r.matches(ctx)]

    def keep_mask(self, ctx: Context, fired: list[int]) -> np.ndarray | None:
        """(n_items,) bool of items the hard rules keep, or None when no hard rule fired."""
        keep: np.ndarray | None = None
        for j in fired:
            r = self.rules[j]
            if r.effect == "exclude_genres":
                m = ~self.masks[j]  # type: ignore[operator]
            elif r.effect == "max_runtime":
                budget = float(ctx.time_budget or 0)
                rt = self.cat.runtime
                m = np.isnan(rt) | (rt <= budget)
                if budget >= EPISODE_MIN:
                    m |= self.cat.is_tv
            else:
                continue
            keep = m if keep is None else keep & m
        return keep

    def boosts(self, fired: list[int], pool: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Boosts for the items ``pool`` (P,): (sum of boosts (P,), applied (P, R) bool, boost rule ids (R,))."""
        ids = [j for j in fired if self.rules[j].effect.startswith("boost")]
        applied = np.zeros((len(pool), len(ids)), bool)
        total = np.zeros(len(pool), np.float64)
        for c, j in enumerate(ids):
            hit = self.masks[j][pool]  # type: ignore[index]
            applied[:, c] = hit
            total += self.rules[j].amount * hit
        return total, applied, ids

    def reasons(self, fired: list[int]) -> list[str]:
        """Distinct reasons of the fired rules, in table order."""
        return list(dict.fromkeys(self.rules[j].reason for j in fired))
