"""Request and response types of the Engine (pydantic, so the HTTP layer can reuse them as-is).

Invalid requests fail at construction with a ``pydantic.ValidationError`` naming the field:
k outside 1..100, an unknown domain, diversity outside 0..1, year_min > year_max, ...
"""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import BaseModel, Field

Domain = Literal["movie", "tv", "all"]
Device = Literal["phone", "tablet", "tv", "desktop"]
Company = Literal["alone", "partner", "family", "friends"]
Mood = Literal["happy", "sad", "thrilling", "relaxed", "romantic", "scary", "thoughtful"]
Strategy = Literal["average", "least_misery", "fair"]


class Context(BaseModel):
    """The situation of the request. hour / weekday default to the server clock when None."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    hour: int | None = Field(None, ge=0, le=23, description="local hour 0..23")
    weekday: int | None = Field(None, ge=0, le=6, description="0 = Monday .. 6 = Sunday")
    device: Device | None = None
    company: Company | None = None
    mood: Mood | None = None
    time_budget: int | None = Field(None, ge=1, le=1440, description="minutes available")


class RecRequest(BaseModel):
    """What to recommend: how many, from where, with which filters and context."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    k: int = Field(10, ge=1, le=100, description="number of items to return")
    domain: Domain = "all"
    genres: list[str] = Field(default_factory=list, description="keep items with any of these genres")
    exclude_genres: list[str] = Field(default_factory=list, description="drop items with any of these genres")
    year_min: int | None = None
    year_max: int | None = None
    exclude: list[str] = Field(default_factory=list, description="item ids not to recommend")
    available_only: bool = Field(False, description="only items on the user's providers in their region")
    diversity: float = Field(0.2, ge=0.0, le=1.0, description="0 = pure relevance, 1 = maximal variety (MMR)")
    tv_share: float | None = Field(None, ge=0.0, le=1.0, description="share of TV items in the list, 0..1 "
                                   "(domain 'all' only; None = no mix control)")
    context: Context = Field(default_factory=Context)

    @pydantic.model_validator(mode="after")
    def _years_ordered(self) -> RecRequest:
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min ({self.year_min}) must be <= year_max ({self.year_max})")
        if self.tv_share is not None and self.domain != "all":
            raise ValueError(f"tv_share needs domain 'all', got domain {self.domain!r}")
        return self


class BecauseItem(BaseModel):
    """One history item that contributes to a recommendation; weight = its share of the score."""

    item_id: str
    title: str
    rating: float | None = None
    weight: float


class Explanation(BaseModel):
    """Why an item is recommended: as data (because, genres) and as a sentence (text)."""

    text: str
    because: list[BecauseItem] = Field(default_factory=list)
    genres: list[str] = Field(default_factory=list)


class ItemFields(BaseModel):
    """The catalogue fields every item in a response carries."""

    item_id: str
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    domain: str = "movie"


class Recommendation(ItemFields):
    """One recommended item with its catalogue fields, score, explanation and fired context rules."""

    overview: str = ""
    runtime: float | None = None
    score: float
    explanation: Explanation
    context_reasons: list[str] = Field(default_factory=list)


class RecResult(BaseModel):
    """``Engine.recommend_full``: the items plus the resolved context and the rules that fired."""

    items: list[Recommendation]
    context: Context
    context_reasons: list[str] = Field(default_factory=list)
    cold_start: bool = False


class GroupResult(BaseModel):
    """A watch-party list: items, each member's predicted satisfaction (0..1) per item, and means."""

    items: list[Recommendation]
    satisfaction: dict[str, list[float]]
    mean: dict[str, float]
    strategy: Strategy
    context_reasons: list[str] = Field(default_factory=list)


class SearchHit(BaseModel):
    """A fuzzy title match; score 0..100 (rapidfuzz WRatio)."""

    item_id: str
    title: str
    year: int | None = None
    domain: str = "movie"
    score: float
