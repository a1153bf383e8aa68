"""Request and response bodies of the HTTP API (pydantic). Engine types are reused where they fit.

Input strings are checked at the edge, and every rule is declared in the OpenAPI schema (patterns,
lengths, ranges): ids are 1..128 characters without control characters or surrounding spaces, other
text has no control characters, so nothing odd (e.g. NUL bytes, which PostgreSQL rejects) reaches
the store. Item ids may be sent as JSON strings or integers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

import pydantic
from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, WithJsonSchema

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
from cinesync.store.schema import ITEM_ID_LEN, USER_ID_LEN

#: the longest user id (MAX_ID) and item id (MAX_ITEM_ID), as the store holds them
MAX_ID = USER_ID_LEN
MAX_ITEM_ID = ITEM_ID_LEN
#: text without control characters (C0 and DEL)
TEXT = r"^[^\x00-\x1f\x7f]*$"
#: the characters an id may not start or end with: control characters and Unicode white space, spelled
#: out because ``\s`` differs between regex dialects (ECMA-262 for OpenAPI, Python, Rust for pydantic)
_EDGE = r"\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: an id: text without control characters, not blank, without white space around it
ID = rf"^[^{_EDGE}](?:[^\x00-\x1f\x7f]*[^{_EDGE}])?$"
_ID_RE = re.compile(ID)
#: integer ids are accepted (as their decimal string) within this range
MAX_INT_ID = 10**15


def printable(value: str) -> str:
    """Reject control characters (NUL, newlines, ...) in a user-supplied string."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


def check_id(value: str, what: str = "item id") -> str:
    """A path/query id (the ``ID`` rule); ValueError naming ``what`` otherwise."""
    limit = MAX_ITEM_ID if what == "item id" else MAX_ID
    if len(value) > limit or not _ID_RE.fullmatch(value):
        raise ValueError(f"{what} must be 1..{limit} characters without control characters or surrounding "
                         f"spaces, got {value[:40]!r}")
    return value


def _id_value(value: Any) -> Any:
    """An integer id becomes its decimal string (JSON Schema counts 7.0 as an integer too); anything but
    a string or an integer is refused."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_INT_ID:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("must be a string (or an integer id)")
    if isinstance(value, int):
        if abs(value) > MAX_INT_ID:
            raise ValueError(f"integer ids must lie within ±{MAX_INT_ID}")
        return str(value)
    return value


_ID_STRING = {"type": "string", "minLength": 1, "maxLength": MAX_ITEM_ID, "pattern": ID}
ItemId = Annotated[str, Field(min_length=1, max_length=MAX_ITEM_ID, pattern=ID), BeforeValidator(_id_value),
                   WithJsonSchema({"anyOf": [_ID_STRING, {"type": "integer", "minimum": -MAX_INT_ID,
                                                          "maximum": MAX_INT_ID}],
                                   "description": "the data set's own item id, e.g. MovieLens movieId '318'"})]
#: an item id in a URL path; one that breaks the rule names nothing (404)
ItemPath = Annotated[str, Path(min_length=1, max_length=MAX_ITEM_ID, pattern=ID,
                               description="the data set's own item id")]
Name = Annotated[str, Field(max_length=200, pattern=TEXT)]
Provider = Annotated[str, Field(min_length=1, max_length=64, pattern=ID)]
Region = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{2,8}$", description="country code, e.g. US")]


class In(BaseModel):
    """Request bodies: unknown fields are errors; strings are strings (an item id may also be an integer)."""

    model_config = ConfigDict(extra="forbid")


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
    notes: list[str] = Field(default_factory=list, description="parts of the query that matched nothing or "
                             "were ignored, e.g. an unknown genre")


class ItemList(ServedModel):
    items: list[RecItem]
    notes: list[str] = Field(default_factory=list, description="parts of the query that matched nothing or "
                             "were ignored")


class ExplainOut(ServedModel):
    item_id: str
    title: str
    explanation: str
    because: list[BecauseItem]
    genres: list[str]


class SearchOut(ServedModel):
    items: list[SearchHit]
    notes: list[str] = Field(default_factory=list)


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
    genres: list[Annotated[str, Field(max_length=64, pattern=TEXT)]] = Field(
        default_factory=list, max_length=50, description="keep items with any of these genres (unknown ones match "
        "nothing)")
    exclude_genres: list[Annotated[str, Field(max_length=64, pattern=TEXT)]] = Field(default_factory=list,
                                                                                      max_length=50)
    year_min: int | None = Field(None, ge=0, le=9999, description="a range with year_min > year_max matches nothing")
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
    notes: list[str] = Field(default_factory=list, description="parts of the request that matched nothing or "
                             "were ignored")


# ---- admin ----------------------------------------------------------------------------------
class ImportIn(In):
    dataset: Literal["ml-latest-small"] = "ml-latest-small"


#: prefix of the tags of runtime-built unions (left out of error locations)
UNION_TAG = "variant:"
#: the model POST /v1/admin/train fits when the body names none
DEFAULT_TRAIN_MODEL = "ease"


class TrainOptions(In):
    evaluate: StrictBool = Field(False, description="also compute quick offline metrics (slower)")
    promote: StrictBool = Field(False, description="serve the new version right away")


def train_request() -> Any:
    """The body of POST /v1/admin/train: one variant per model the registry can build, each with that
    model's own typed config, told apart by ``model`` (default ``ease``). The request is checked against
    exactly what the schema states (every field's rules); rules between fields (e.g. SASRec's hidden
    size divisible by its heads) are checked when the job starts, and a violation fails the job with
    the reason. A model whose optional dependency is missing is left out."""
    from pydantic import Discriminator, Tag, create_model

    from cinesync.extras import MissingExtraError
    from cinesync.models import registry

    variants, names = [], []
    for name in registry.available():
        try:
            config_class = registry.model_class(name).config_class
        except MissingExtraError:
            continue
        model_field: Any = (Literal[name], DEFAULT_TRAIN_MODEL if name == DEFAULT_TRAIN_MODEL else ...)
        shape = config_class.shape()  # the rules between fields are checked when the job runs
        variant = create_model(f"Train_{name}", __base__=TrainOptions, model=model_field,
                               config=(shape, Field(default_factory=shape,
                                                    description=f"{name}'s settings (omitted: defaults)")))
        variants.append(Annotated[variant, Tag(f"{UNION_TAG}{name}")])
        names.append(name)

    def tag(value: Any) -> str | None:
        model = value.get("model", DEFAULT_TRAIN_MODEL) if isinstance(value, dict) else getattr(value, "model", None)
        return f"{UNION_TAG}{model}" if isinstance(model, str) and model in names else None

    union: Any = Union[tuple(variants)]  # noqa: UP007 - a runtime-built union
    return Annotated[union, Discriminator(tag, custom_error_type="unknown_model",
                                          custom_error_message=f"available: {', '.join(names)}")]


class JobOut(BaseModel):
    """A background job (import, training) and what became of it."""

    id: str
    kind: Literal["import", "train"]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    params: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    result: dict[str, Any] | None = Field(description="the job's result once it succeeded: the model version "
                                          "(train) or the import's counts")
    error: str | None = Field(description="why the job failed, once it failed")


class JobsOut(BaseModel):
    jobs: list[JobOut]


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
