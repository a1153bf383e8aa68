"""Personal recommendations and explanations (``/v1/users/{user_id}/recommendations``, ``/explain``).

The hot path: authorise (token lookups are cached), read the user's feedback version, look
the list up in the cache under (user, model version, feedback version, normalised query); on a
miss load the UserState (cached per feedback version), run the Engine, store the serialised
JSON. Context hour / weekday default to the server clock and are part of the cache key.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cinesync.serving.engine.context import resolve
from cinesync.serving.engine.schemas import Company, Context, Device, Domain, Mood, RecRequest
from cinesync.serving.http.auth import Own, Service
from cinesync.serving.http.routers.common import errors, json_bytes, need_engine, split_list
from cinesync.serving.http.schemas import MAX_ID, ExplainOut, RecItem, Recommendations, check_id
from cinesync.serving.service import Served, ServiceState

router = APIRouter(prefix="/v1/users", tags=["recommendations"])
ItemPath = Annotated[str, Path(min_length=1, max_length=MAX_ID, description="the data set's own item id")]


class RecQuery(BaseModel):
    """The query string of GET recommendations.

    Parsed by ``parse_query`` with ONE pydantic call and documented in OpenAPI by
    ``query_parameters``: FastAPI's per-parameter handling of 15 parameters cost ~0.15 ms per
    request on the hottest route. Unknown parameters are ignored, as FastAPI does.
    """

    model_config = ConfigDict(extra="ignore")

    k: int = Field(10, ge=1, le=100, description="number of items, 1..100")
    domain: Domain = Field("all", description="movie, tv or all")
    genres: str | None = Field(None, max_length=2000, description="comma-separated: keep items with any of these "
                               "genres, e.g. Drama,Comedy")
    exclude_genres: str | None = Field(None, max_length=2000, description="comma-separated genres to drop")
    year_min: int | None = Field(None, ge=0, le=9999)
    year_max: int | None = Field(None, ge=0, le=9999)
    exclude: str | None = Field(None, max_length=6000, description="comma-separated item ids not to recommend")
    available_only: bool = Field(False, description="only items on the user's providers in their region")
    diversity: float = Field(0.2, ge=0.0, le=1.0, description="0 = relevance only .. 1 = most varied")
    tv_share: float | None = Field(None, ge=0.0, le=1.0, description="share of TV items in the list, 0..1 "
                                   "(domain=all only)")
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


def rec_request(q: RecQuery) -> RecRequest:
    """The query as a RecRequest (422 naming the parameter on bad values)."""
    if q.year_min is not None and q.year_max is not None and q.year_min > q.year_max:
        raise HTTPException(422, f"query parameters year_min ({q.year_min}) must be <= year_max ({q.year_max})")
    if q.tv_share is not None and q.domain != "all":
        raise HTTPException(422, f"query parameter tv_share needs domain=all, got domain={q.domain}")
    ids = [check_id(x) for x in split_list(q.exclude, "exclude")]
    ctx = Context(hour=q.hour, weekday=q.weekday, device=q.device, company=q.company, mood=q.mood,
                  time_budget=q.time_budget)
    return RecRequest(k=q.k, domain=q.domain, genres=split_list(q.genres, "genres"),
                      exclude_genres=split_list(q.exclude_genres, "exclude_genres"), year_min=q.year_min,
                      year_max=q.year_max, exclude=ids, available_only=q.available_only, diversity=q.diversity,
                      tv_share=q.tv_share, context=ctx)


def query_key(req: RecRequest) -> str:
    """A short digest of a (context-resolved) request, for cache keys."""
    return hashlib.blake2b(req.model_dump_json().encode(), digest_size=12).hexdigest()


@router.get("/{user_id}/recommendations", response_model=Recommendations,
            responses=errors(401, 403, 404, 422, 503), openapi_extra={"parameters": query_parameters(RecQuery)})
async def recommendations(who: Own, svc: Service, request: Request) -> Response:
    """The user's personal top-k, explained, reflecting every rating made so far."""
    q = rec_request(parse_query(request))
    served = need_engine(svc)
    req = q.model_copy(update={
        "context": resolve(q.context, svc.clock()),
        "exclude": [x for x in q.exclude if x in served.engine.cat.items],  # unknown ids can never be shown
    })
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
    body = await loop.run_in_executor(svc.compute_pool, _compute, svc, served, who.pk, version, req)
    if use_cache:
        svc.cache.set(key, body)
    return json_bytes(body, headers={"X-Cache": "miss" if use_cache else "off"})


def _compute(svc: ServiceState, served: Served, user_pk: int, version: int, req: RecRequest) -> bytes:
    """Cache miss: load the user's state, run the engine, serialise (in a worker thread)."""
    state = svc.user_state(user_pk, version)
    with svc.timed("user"):
        result = served.engine.recommend_full(state, req)
    return Recommendations(items=[RecItem.of(r) for r in result.items], context=result.context,
                           context_reasons=result.context_reasons, cold_start=result.cold_start,
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
