"""Personal recommendations and explanations (``/v1/users/{user_id}/recommendations``, ``/explain``).

The hot path: authorise (token lookups are cached), read the user's feedback version, look
the list up in the cache under (user, model version, feedback version, normalised query); on a
miss load the UserState (cached per feedback version), run the Engine, store the serialised
JSON. Context hour / weekday default to the server clock and are part of the cache key.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cinesync.serving.engine.context import resolve
from cinesync.serving.engine.engine import Engine
from cinesync.serving.engine.schemas import Company, Context, Device, Domain, Mood, RecRequest
from cinesync.serving.http.auth import Own, Service
from cinesync.serving.http.routers.common import errors, json_bytes, known_genres, need_engine, split_list
from cinesync.serving.http.schemas import TEXT, ExplainOut, ItemPath, RecItem, Recommendations, check_id
from cinesync.serving.service import Served, ServiceState

router = APIRouter(prefix="/v1/users", tags=["recommendations"])


class RecQuery(BaseModel):
    """The query string of GET recommendations.

    Parsed by ``parse_query`` with ONE pydantic call and documented in OpenAPI by
    ``query_parameters``: FastAPI's per-parameter handling of 15 parameters cost ~0.15 ms per
    request on the hottest route. Unknown parameters are ignored, as FastAPI does.
    """

    model_config = ConfigDict(extra="ignore")

    k: int = Field(10, ge=1, le=100, description="number of items, 1..100")
    domain: Domain = Field("all", description="movie, tv or all")
    genres: str | None = Field(None, max_length=2000, pattern=TEXT, description="comma-separated: keep items with "
                               "any of these genres, e.g. Drama,Comedy (unknown genres match nothing)")
    exclude_genres: str | None = Field(None, max_length=2000, pattern=TEXT, description="comma-separated genres "
                                       "to drop")
    year_min: int | None = Field(None, ge=0, le=9999, description="earliest year (a range with year_min > "
                                 "year_max matches nothing)")
    year_max: int | None = Field(None, ge=0, le=9999)
    exclude: str | None = Field(None, max_length=6000, pattern=TEXT, description="comma-separated item ids not "
                                "to recommend (unknown ids are ignored)")
    available_only: bool = Field(False, description="only items on the user's providers in their region")
    diversity: float = Field(0.2, ge=0.0, le=1.0, description="0 = relevance only .. 1 = most varied")
    tv_share: float | None = Field(None, ge=0.0, le=1.0, description="share of TV items in the list, 0..1 "
                                   "(applies to domain=all; ignored otherwise)")
    company: Company | None = None
    mood: Mood | None = None
    device: Device | None = None
    time_budget: int | None = Field(None, ge=1, le=1440, description="minutes available")
    hour: int | None = Field(None, ge=0, le=23, description="local hour (default: server clock)")
    weekday: int | None = Field(None, ge=0, le=6, description="0 = Monday (default: server clock)")


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI ``parameters`` (all in the query, optional) for the fields of ``model``."""
    out = []
    for name, prop in model.model_json_schema()["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        desc = prop.pop("description", None)
        out.append({"name": name, "in": "query", "required": False, "schema": prop,
                    **({"description": desc} if desc else {})})
    return out


def parse_query(request: Request) -> RecQuery:
    """The request's query string as RecQuery; errors are reported like FastAPI's (422, per parameter)."""
    try:
        return RecQuery.model_validate(dict(request.query_params))
    except ValidationError as e:
        raise RequestValidationError([{**err, "loc": ("query", *err["loc"])} for err in e.errors()]) from None


def rec_request(q: RecQuery, engine: Engine, notes: list[str]) -> RecRequest | None:
    """The query as a RecRequest; None when it can match nothing (``notes`` says why, and what was ignored)."""
    empty = False
    if q.year_min is not None and q.year_max is not None and q.year_min > q.year_max:
        notes.append(f"year_min ({q.year_min}) is after year_max ({q.year_max}): no year matches")
        empty = True
    tv_share = q.tv_share
    if tv_share is not None and q.domain != "all":
        notes.append(f"tv_share applies to domain=all; ignored for domain={q.domain}")
        tv_share = None
    asked = split_list(q.genres, "genres")
    genres = known_genres(engine, asked, "genres", notes)
    if asked and not genres:
        empty = True
    exclude_genres = known_genres(engine, split_list(q.exclude_genres, "exclude_genres"), "exclude_genres", notes)
    asked_ids = split_list(q.exclude, "exclude")
    ids = [x for x in asked_ids if x in engine.cat.items]
    if len(ids) < len(asked_ids):
        unknown = [x for x in asked_ids if x not in engine.cat.items]
        notes.append(f"exclude: {len(unknown)} unknown item id(s) ignored, e.g. {unknown[0][:40]!r}")
    ctx = Context(hour=q.hour, weekday=q.weekday, device=q.device, company=q.company, mood=q.mood,
                  time_budget=q.time_budget)
    if empty:
        return None
    return RecRequest(k=q.k, domain=q.domain, genres=genres, exclude_genres=exclude_genres, year_min=q.year_min,
                      year_max=q.year_max, exclude=ids,
                      available_only=q.available_only, diversity=q.diversity, tv_share=tv_share, context=ctx)


def query_key(req: RecRequest) -> str:
    """A short digest of a (context-resolved) request, for cache keys."""
    return hashlib.blake2b(req.model_dump_json().encode(), digest_size=12).hexdigest()


@router.get("/{user_id}/recommendations", response_model=Recommendations,
            responses=errors(401, 403, 404, 422, 503), openapi_extra={"parameters": query_parameters(RecQuery)})
async def recommendations(who: Own, svc: Service, request: Request) -> Response:
    """The user's personal top-k, explained, reflecting every rating made so far."""
    query = parse_query(request)
    served = need_engine(svc)
    notes: list[str] = []
    q = rec_request(query, served.engine, notes)
    if q is None:  # nothing can match: an empty list, and why
        ctx = resolve(Context(hour=query.hour, weekday=query.weekday), svc.clock())
        body = Recommendations(items=[], context=ctx, notes=notes, model_version=served.version_id,
                               model=served.label)
        return json_bytes(body.model_dump_json().encode(), headers={"X-Cache": "off"})
    req = q.model_copy(update={"context": resolve(q.context, svc.clock())})
    version = svc.feedback_version(who.pk)  # read BEFORE the state (see cache.py)
    key = f"rec:{who.pk}:{served.stamp}:{version}:{query_key(req)}"
    use_cache = svc.rec_cache and version >= 0
    if use_cache:
        hit = svc.cache.get(key)
        if hit is not None:
            svc.metrics.cache_hits.labels("recommendations").inc()
            return json_bytes(hit, headers={"X-Cache": "hit"})
        svc.metrics.cache_misses.labels("recommendations").inc()
    loop = asyncio.get_running_loop()
    body = await loop.run_in_executor(svc.compute_pool, _compute, svc, served, who.pk, version, req, notes)
    if use_cache:
        svc.cache.set(key, body)
    return json_bytes(body, headers={"X-Cache": "miss" if use_cache else "off"})


def _compute(svc: ServiceState, served: Served, user_pk: int, version: int, req: RecRequest,
             notes: list[str]) -> bytes:
    """Cache miss: load the user's state, run the engine, serialise (in a worker thread)."""
    state = svc.user_state(user_pk, version)
    with svc.timed("user"):
        result = served.engine.recommend_full(state, req)
    return Recommendations(items=[RecItem.of(r) for r in result.items], context=result.context,
                           context_reasons=result.context_reasons, cold_start=result.cold_start, notes=notes,
                           model_version=served.version_id, model=served.label).model_dump_json().encode()


@router.get("/{user_id}/explain/{item_id}", response_model=ExplainOut, responses=errors(401, 403, 404, 422, 503))
def explain_item(who: Own, svc: Service, item_id: ItemPath) -> ExplainOut:
    """Why an item suits this user (any item the model knows, recommended or not)."""
    served = need_engine(svc)
    item_id = check_id(item_id)
    state = svc.user_state(who.pk)
    with svc.timed("explain"):
        e = served.engine.explain(state, item_id)
    title = served.engine.cat.titles[served.engine.cat.items.index(item_id)]
    return ExplainOut(item_id=item_id, title=title, explanation=e.text, because=e.because, genres=e.genres,
                      model_version=served.version_id, model=served.label)
