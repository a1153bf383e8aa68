"""Request and response bodies of the HTTP API (pydantic). Engine types are reused where they fit.

Input strings are checked at the edge: ids are 1..128 printable characters, names have no
control characters, so nothing odd (e.g. NUL bytes, which PostgreSQL rejects) reaches the store.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat

from cinesync.data.ratings import STARS
from cinesync.serving.engine.schemas import (
    BecauseItem,
    Context,
    Domain,
    ItemFields,
    Recommendation,
    SearchHit,
    Strategy,
)

MAX_ID = 128


def printable(value: str) -> str:
    """Reject control characters (NUL, newlines, ...) in a user-supplied string."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


def check_id(value: str, what: str = "item id") -> str:
    """A path/query id: 1..128 printable characters, stripped; ValueError naming ``what`` otherwise."""
    v = value.strip()
    if not v or len(v) > MAX_ID:
        raise ValueError(f"{what} must be 1..{MAX_ID} characters, got {value[:40]!r}")
    printable(v)
    return v


ItemId = Annotated[str, Field(min_length=1, max_length=MAX_ID, description="the data set's own item id, e.g. "
                              "MovieLens movieId '318'"), AfterValidator(printable)]
Name = Annotated[str, Field(max_length=200), AfterValidator(printable)]
Provider = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(printable)]
Region = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{2,8}$", description="country code, e.g. US")]


class In(BaseModel):
    """Request bodies: unknown fields are errors; numbers are accepted where an id string is expected."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


# ---- users -----------------------------------------------------------------------------
class UserCreate(In):
    display_name: Name | None = None
    providers: list[Provider] = Field(default_factory=list, max_length=50)
    region: Region | None = None


class UserCreated(BaseModel):
    user_id: str
    token: str = Field(description="API token: send it as 'Authorization: Bearer <token>'; shown only once")


class UserPatch(In):
    display_name: Name | None = None
    providers: list[Provider] | None = Field(None, max_length=50)
    region: Region | None = None


class UserProfile(BaseModel):
    user_id: str
    display_name: str | None
    providers: list[str]
    region: str | None
    is_admin: bool
    n_ratings: int = Field(description="items currently rated or watched")
    n_watchlist: int


# ---- ratings, feedback, watchlist -------------------------------------------------------
class RatingIn(In):
    item_id: ItemId
    rating: StrictFloat = Field(ge=STARS.low, le=STARS.high, multiple_of=STARS.step,
                                description=f"{STARS} (a JSON number; true/false and strings are rejected)")


class RatingOut(BaseModel):
    item_id: str
    rating: float | None
    ts: float
    title: str | None = None
    year: int | None = None


class RatingList(BaseModel):
    items: list[RatingOut]


class FeedbackIn(In):
    item_id: ItemId
    kind: Literal["watched", "dislike", "not_interested", "impression", "click"]


class FeedbackOut(BaseModel):
    item_id: str
    kind: str
    ts: float


class WatchlistIn(In):
    item_id: ItemId


class ItemBrief(ItemFields):
    """An item's catalogue fields (watchlist entries)."""


class WatchlistOut(BaseModel):
    items: list[ItemBrief]


# ---- recommendations ----------------------------------------------------------------------
class RecItem(ItemFields):
    """One recommended item. ``explanation`` is the sentence; the data behind it is in ``because``."""

    overview: str = ""
    runtime: float | None = None
    score: float
    explanation: str
    because: list[BecauseItem] = Field(default_factory=list)
    explanation_genres: list[str] = Field(default_factory=list)
    context_reasons: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, r: Recommendation) -> RecItem:
        return cls(item_id=r.item_id, title=r.title, year=r.year, genres=r.genres, domain=r.domain,
                   overview=r.overview, runtime=r.runtime, score=r.score, explanation=r.explanation.text,
                   because=r.explanation.because, explanation_genres=r.explanation.genres,
                   context_reasons=r.context_reasons)


class ServedModel(BaseModel):
    model_version: int | None = Field(None, description="row id of the served model version")
    model: str | None = Field(None, description="label of the served version, e.g. ease-v1")


class Recommendations(ServedModel):
    items: list[RecItem]
    context: Context
    context_reasons: list[str] = Field(default_factory=list)
    cold_start: bool = False


class ItemList(ServedModel):
    items: list[RecItem]


class ExplainOut(ServedModel):
    item_id: str
    title: str
    explanation: str
    because: list[BecauseItem]
    genres: list[str]


class SearchOut(ServedModel):
    items: list[SearchHit]


class GenresOut(BaseModel):
    genres: list[str]


class Offer(BaseModel):
    provider: str
    region: str


class ItemDetail(BaseModel):
    item_id: str
    title: str
    year: int | None = None
    genres: list[str]
    domain: str
    overview: str = ""
    runtime: float | None = None
    tags: list[str] = Field(default_factory=list)
    n_ratings: int | None = Field(None, description="ratings in the served model's data (None: unknown to it)")
    mean_rating: float | None = None
    availability: list[Offer] = Field(default_factory=list)


# ---- groups ---------------------------------------------------------------------------------
class GroupIn(In):
    member_tokens: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(min_length=2, max_length=8)
    strategy: Strategy = "fair"
    k: int = Field(10, ge=1, le=100)
    domain: Domain = "all"
    diversity: float = Field(0.2, ge=0.0, le=1.0)
    available_only: bool = False
    genres: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=50)
    exclude_genres: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=50)
    year_min: int | None = Field(None, ge=0, le=9999)
    year_max: int | None = Field(None, ge=0, le=9999)
    context: Context | None = None


class GroupMember(BaseModel):
    user_id: str
    display_name: str | None
    mean_satisfaction: float


class GroupOut(ServedModel):
    items: list[RecItem]
    members: list[GroupMember]
    satisfaction: dict[str, list[float]]
    strategy: str
    context_reasons: list[str] = Field(default_factory=list)


# ---- admin ----------------------------------------------------------------------------------
class ImportIn(In):
    dataset: Literal["ml-latest-small"] = "ml-latest-small"


class TrainIn(In):
    model: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")] = "ease"
    config: dict[str, Any] = Field(default_factory=dict)
    evaluate: bool = Field(False, description="also compute quick offline metrics (slower)")
    promote: bool = Field(False, description="serve the new version right away")


class ModelVersionOut(BaseModel):
    id: int
    label: str
    model: str
    version: int
    created_at: str
    metrics: dict[str, Any]
    config: dict[str, Any]
    served: bool


class ModelsOut(BaseModel):
    served: int | None
    versions: list[ModelVersionOut]


class AvailabilityRow(In):
    item_id: ItemId
    provider: Provider
    region: Region


class Counts(BaseModel):
    model_config = ConfigDict(extra="allow")


# ---- ops ------------------------------------------------------------------------------------
class Health(BaseModel):
    status: str


class Ready(ServedModel):
    status: str
    cache: str


def validation_error(title: str, errors: list[dict[str, Any]]) -> pydantic.ValidationError:
    """A pydantic ValidationError built by hand (for checks that span several parameters)."""
    return pydantic.ValidationError.from_exception_data(title, errors)  # type: ignore[arg-type]
