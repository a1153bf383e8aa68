"""Public catalogue endpoints (no token): search, item details, similar titles, trending, hidden
gems, genres and onboarding picks. All but the item details come from the served Engine."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from cinesync.serving.engine.engine import Engine
from cinesync.serving.engine.schemas import Domain
from cinesync.serving.http.auth import Service
from cinesync.serving.http.routers.common import errors, known_genres, need_engine, split_list
from cinesync.serving.http.schemas import (
    TEXT,
    GenresOut,
    ItemDetail,
    ItemList,
    ItemPath,
    Offer,
    RecItem,
    SearchOut,
    check_id,
)
from cinesync.serving.service import ServiceState
from cinesync.store import repo
from cinesync.store.schema import Availability

router = APIRouter(prefix="/v1", tags=["catalogue"])
K = Annotated[int, Query(ge=1, le=100, description="number of items, 1..100")]
DomainQ = Annotated[Domain, Query(description="movie, tv or all")]


@router.get("/items/search", response_model=SearchOut, responses=errors(422, 503))
def search(svc: Service, q: Annotated[str, Query(min_length=1, max_length=200, pattern=TEXT,
                                                 description="title words")],
           k: K = 10, domain: DomainQ = "all") -> SearchOut:
    """Fuzzy title search ("matrix", "the godfather 1972", typos welcome)."""
    served = need_engine(svc)
    if not any(ch.isalnum() for ch in q):
        return SearchOut(items=[], notes=[f"search query {q[:40]!r} has no letters or digits: nothing to match"],
                         model_version=served.version_id, model=served.label)
    with svc.timed("search"):
        hits = served.engine.search(q, k, domain)
    return SearchOut(items=hits, model_version=served.version_id, model=served.label)


@router.get("/items/{item_id}", response_model=ItemDetail, responses=errors(404, 422))
def item_detail(item_id: ItemPath, svc: Service) -> ItemDetail:
    """Catalogue entry, rating statistics (from the served model's data) and streaming availability."""
    item_id = check_id(item_id)
    with svc.read() as s:
        item = repo.get_item(s, item_id)
        offers = s.execute(select(Availability.provider, Availability.region)
                           .where(Availability.item_pk == item.id)
                           .order_by(Availability.region, Availability.provider)).all()
    n_ratings = mean = None
    served = svc.served
    if served is not None and item_id in served.engine.cat.items:
        cat = served.engine.cat
        i = cat.items.index(item_id)
        n_ratings = int(cat.counts[i])
        m = float(cat.mean_rating[i])
        mean = round(m, 3) if n_ratings and math.isfinite(m) else None
    return ItemDetail(item_id=item.item_id, title=item.title, year=item.year, genres=list(item.genres or ()),
                      domain=item.domain, overview=item.overview or "", runtime=item.runtime,
                      tags=list(item.tags or ())[:50], n_ratings=n_ratings, mean_rating=mean,
                      availability=[Offer(provider=p, region=r) for p, r in offers])


def _item_list(svc: ServiceState, label: str, call: Callable[[Engine], list]) -> ItemList:
    """Run one engine list call under the served model, timed as ``label``, as an ItemList."""
    served = need_engine(svc)
    with svc.timed(label):
        recs = call(served.engine)
    return ItemList(items=[RecItem.of(r) for r in recs], model_version=served.version_id, model=served.label)


@router.get("/items/{item_id}/similar", response_model=ItemList, responses=errors(404, 422, 503))
def similar(item_id: ItemPath, svc: Service, k: K = 10, domain: DomainQ = "all") -> ItemList:
    """Titles most similar to this one in the served model's space."""
    item = check_id(item_id)
    return _item_list(svc, "similar", lambda engine: engine.similar(item, k, domain))


@router.get("/trending", response_model=ItemList, responses=errors(422, 503))
def trending(svc: Service, k: K = 10, domain: DomainQ = "all") -> ItemList:
    """What many people watched recently (time-decayed popularity, 30-day half-life)."""
    return _item_list(svc, "trending", lambda engine: engine.trending(k, domain))


@router.get("/hidden-gems", response_model=ItemList, responses=errors(422, 503))
def hidden_gems(svc: Service, k: K = 10, domain: DomainQ = "all") -> ItemList:
    """Highly rated titles that few people have seen."""
    return _item_list(svc, "hidden_gems", lambda engine: engine.hidden_gems(k, domain))


@router.get("/genres", response_model=GenresOut, responses=errors(503))
def genres(svc: Service) -> GenresOut:
    """The catalogue's genre names (for filters and onboarding)."""
    return GenresOut(genres=need_engine(svc).engine.genres())


@router.get("/onboarding", response_model=ItemList, responses=errors(422, 503))
def onboarding(svc: Service,
               genres: Annotated[str | None, Query(max_length=2000, pattern=TEXT, description="comma-separated "
                                                   "genres, e.g. Drama,Comedy (empty: all; unknown ones are "
                                                   "ignored)")] = None,
               k: Annotated[int, Query(ge=1, le=100, description="number of items, 1..100")] = 12,
               domain: DomainQ = "all") -> ItemList:
    """Well-known, varied titles for a new user to rate first."""
    served = need_engine(svc)
    notes: list[str] = []
    wanted = known_genres(served.engine, split_list(genres, "genres"), "genres", notes)
    with svc.timed("onboarding"):
        recs = served.engine.onboarding(wanted, k, domain)
    return ItemList(items=[RecItem.of(r) for r in recs], notes=notes, model_version=served.version_id,
                    model=served.label)
