"""Users: sign-up, profile, ratings, feedback and watchlist (``/v1/users``).

Every write commits first and then bumps the user's feedback version (``ServiceState.after_write``)
before the response is sent, so the user's next read never comes from a stale cache entry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Response
from sqlalchemy import delete, select

from cinesync.errors import UnknownIdError
from cinesync.serving.http.auth import Caller, Own, Service
from cinesync.serving.http.routers.common import errors
from cinesync.serving.http.schemas import (
    FeedbackIn,
    FeedbackOut,
    ItemBrief,
    ItemPath,
    RatingIn,
    RatingList,
    RatingOut,
    UserCreate,
    UserCreated,
    UserPatch,
    UserProfile,
    WatchlistIn,
    WatchlistOut,
    check_id,
)
from cinesync.serving.service import ServiceState
from cinesync.store import repo
from cinesync.store.schema import Event, Item, User

router = APIRouter(prefix="/v1/users", tags=["users"])
#: event kinds that do not change what the user sees (no cache invalidation needed)
PASSIVE_KINDS = ("impression", "click")


def _briefs(svc: ServiceState, item_ids: list[str]) -> dict[str, ItemBrief]:
    """Catalogue rows of ``item_ids`` from the store."""
    if not item_ids:
        return {}
    with svc.read() as s:
        rows = s.execute(select(Item.item_id, Item.title, Item.year, Item.genres, Item.domain)
                         .where(Item.item_id.in_(item_ids))).all()
    return {r[0]: ItemBrief(item_id=r[0], title=r[1], year=r[2], genres=list(r[3] or ()), domain=r[4]) for r in rows}


def _event(svc: ServiceState, pk: int, item_id: str, kind: str, value: float | None = None) -> tuple[float, Item]:
    """Record one event, invalidate the user's cache; returns (ts, item). An unknown item in the request
    body is 409 Conflict (the request is well formed, but the catalogue has no such item), naming the field."""
    item_id = check_id(item_id)
    try:
        with svc.write() as s:
            ev = repo.add_event(s, s.get(User, pk), item_id, kind, value)
            ts, item = ev.ts, ev.item
    except UnknownIdError as e:
        raise HTTPException(409, f"body field item_id: {e}") from None
    if kind not in PASSIVE_KINDS:
        svc.after_write(pk)
    return ts, item


@router.post("", status_code=201, response_model=UserCreated, responses=errors(400, 422))
def create_user(svc: Service, body: Annotated[UserCreate | None, Body()] = None) -> UserCreated:
    """Open sign-up: a new user and their API token (shown only once; only its hash is stored)."""
    body = body or UserCreate()
    with svc.write() as s:
        user, token = repo.create_user(s, display_name=body.display_name, region=body.region,
                                       providers=body.providers)
        uid = user.external_id
    return UserCreated(user_id=uid, token=token)


@router.get("/me", response_model=UserProfile, responses=errors(401, 404))
def me(p: Caller, svc: Service) -> UserProfile:
    """The profile of the token's own user."""
    if p.user_pk is None:
        raise HTTPException(404, "the admin token belongs to no user")
    return _profile(svc, p.user_pk)


@router.patch("/me", response_model=UserProfile, responses=errors(400, 401, 404, 422))
def patch_me(p: Caller, svc: Service, body: UserPatch) -> UserProfile:
    """Change the token's own user's display name, providers or region."""
    if p.user_pk is None:
        raise HTTPException(404, "the admin token belongs to no user")
    return _patch(svc, p.user_pk, body)


def _profile(svc: ServiceState, pk: int) -> UserProfile:
    state = svc.user_state(pk)
    with svc.read() as s:
        u = s.get(User, pk)
        return UserProfile(user_id=u.external_id, display_name=u.display_name, providers=list(u.providers or ()),
                           region=u.region, is_admin=bool(u.is_admin), n_ratings=len(state.history),
                           n_watchlist=len(state.watchlist))


@router.get("/{user_id}", response_model=UserProfile, responses=errors(401, 403, 404, 422))
def get_profile(who: Own, svc: Service) -> UserProfile:
    """Display name, providers, region and how many items the user rated."""
    return _profile(svc, who.pk)


@router.patch("/{user_id}", response_model=UserProfile, responses=errors(400, 401, 403, 404, 422))
def patch_profile(who: Own, svc: Service, body: UserPatch) -> UserProfile:
    """Change display name, streaming providers or region (omitted fields stay as they are)."""
    return _patch(svc, who.pk, body)


def _patch(svc: ServiceState, pk: int, body: UserPatch) -> UserProfile:
    with svc.write() as s:
        repo.update_user(s, s.get(User, pk), display_name=body.display_name, region=body.region,
                         providers=body.providers)
    svc.after_write(pk)  # providers / region change what "available_only" shows
    svc.forget_principals()
    return _profile(svc, pk)


# ---- ratings --------------------------------------------------------------------------------
@router.post("/{user_id}/ratings", status_code=201, response_model=RatingOut,
             responses=errors(400, 401, 403, 404, 409, 422))
def add_rating(who: Own, svc: Service, body: RatingIn) -> RatingOut:
    """Rate an item 0.5..5 (steps of 0.5); the next recommendations reflect it at once."""
    ts, item = _event(svc, who.pk, body.item_id, "rating", body.rating)
    return RatingOut(item_id=item.item_id, rating=body.rating, ts=ts, title=item.title, year=item.year)


@router.get("/{user_id}/ratings", response_model=RatingList, responses=errors(401, 403, 404, 422))
def list_ratings(who: Own, svc: Service) -> RatingList:
    """The user's current ratings (and watched items), newest first, with titles."""
    state = svc.user_state(who.pk)
    briefs = _briefs(svc, list(state.history))
    rows = []
    for item, rating, ts in zip(state.history, state.ratings, state.timestamps, strict=True):
        b = briefs.get(item)
        rows.append(RatingOut(item_id=item, rating=rating, ts=ts, title=b.title if b else None,
                              year=b.year if b else None))
    rows.reverse()
    return RatingList(items=rows)


@router.delete("/{user_id}/ratings/{item_id}", status_code=204, responses=errors(401, 403, 404, 422))
def delete_rating(who: Own, item_id: ItemPath, svc: Service) -> Response:
    """Remove the user's rating (and watched mark) of an item."""
    item_id = check_id(item_id)
    with svc.write() as s:
        item = repo.get_item(s, item_id)
        n = s.execute(delete(Event).where(Event.user_pk == who.pk, Event.item_pk == item.id,
                                          Event.kind.in_(repo.POSITIVE_KINDS))).rowcount
    if not n:
        raise HTTPException(404, f"user {who.user_id!r} has not rated item {item_id!r}")
    svc.after_write(who.pk)
    return Response(status_code=204)


# ---- feedback -------------------------------------------------------------------------------
@router.post("/{user_id}/feedback", status_code=201, response_model=FeedbackOut,
             responses=errors(400, 401, 403, 404, 409, 422))
def feedback(who: Own, svc: Service, body: FeedbackIn) -> FeedbackOut:
    """watched (counts as liked), dislike / not_interested (never shown again), impression, click."""
    ts, item = _event(svc, who.pk, body.item_id, body.kind)
    return FeedbackOut(item_id=item.item_id, kind=body.kind, ts=ts)


# ---- watchlist ------------------------------------------------------------------------------
@router.get("/{user_id}/watchlist", response_model=WatchlistOut, responses=errors(401, 403, 404, 422))
def get_watchlist(who: Own, svc: Service) -> WatchlistOut:
    """Items the user saved for later, in the order they were added."""
    state = svc.user_state(who.pk)
    briefs = _briefs(svc, list(state.watchlist))
    return WatchlistOut(items=[briefs[i] for i in state.watchlist if i in briefs])


@router.post("/{user_id}/watchlist", status_code=201, response_model=ItemBrief,
             responses=errors(400, 401, 403, 404, 409, 422))
def add_watchlist(who: Own, svc: Service, body: WatchlistIn) -> ItemBrief:
    """Save an item for later."""
    _, item = _event(svc, who.pk, body.item_id, "watchlist_add")
    return ItemBrief(item_id=item.item_id, title=item.title, year=item.year, genres=list(item.genres or ()),
                     domain=item.domain)


@router.delete("/{user_id}/watchlist/{item_id}", status_code=204, responses=errors(401, 403, 404, 422))
def remove_watchlist(who: Own, item_id: ItemPath, svc: Service) -> Response:
    """Take an item off the watchlist (404 if it is not on it)."""
    item_id = check_id(item_id)
    if item_id not in svc.user_state(who.pk).watchlist:
        with svc.read() as s:
            repo.get_item(s, item_id)  # unknown item -> 404 "unknown item id"
        raise HTTPException(404, f"item {item_id!r} is not on user {who.user_id!r}'s watchlist")
    _event(svc, who.pk, item_id, "watchlist_remove")
    return Response(status_code=204)
