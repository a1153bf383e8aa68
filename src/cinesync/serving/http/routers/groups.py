"""Watch party: one shared list for 2..8 users (``POST /v1/groups/recommendations``).

Each member is identified by their own token in the body, which is the authorisation: whoever
holds the tokens may ask for the group's list. Satisfaction is predicted per member and item.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from cinesync.serving.engine.context import resolve
from cinesync.serving.engine.schemas import Context, RecRequest
from cinesync.serving.http.auth import Service
from cinesync.serving.http.routers.common import errors, known_genres, need_engine
from cinesync.serving.http.schemas import GroupIn, GroupMember, GroupOut, RecItem
from cinesync.serving.service import Principal

router = APIRouter(prefix="/v1/groups", tags=["groups"])


@router.post("/recommendations", response_model=GroupOut, responses=errors(400, 401, 422, 503))
def group_recommendations(body: GroupIn, svc: Service) -> GroupOut:
    """A fair shared list: strategy "fair" (default) evens out satisfaction, "average" maximises the mean,
    "least_misery" the least happy member's."""
    served = need_engine(svc)
    notes: list[str] = []
    empty = body.year_min is not None and body.year_max is not None and body.year_min > body.year_max
    if empty:
        notes.append(f"year_min ({body.year_min}) is after year_max ({body.year_max}): no year matches")
    genres = known_genres(served.engine, body.genres, "genres", notes)
    exclude_genres = known_genres(served.engine, body.exclude_genres, "exclude_genres", notes)
    empty |= bool(body.genres) and not genres
    members: list[Principal] = []
    for n, token in enumerate(body.member_tokens):
        p = svc.principal(token.strip()) if token.strip() else None
        if p is None:
            raise HTTPException(401, f"member_tokens[{n}] is not a valid user token")
        if p.user_pk is None:
            raise HTTPException(422, f"member_tokens[{n}] is the admin token, not a user's token")
        if any(m.user_pk == p.user_pk for m in members):
            raise HTTPException(422, f"member_tokens[{n}] repeats user {p.user_id!r}: each member once")
        members.append(p)
    ctx = resolve(body.context or Context(), svc.clock())
    if empty:
        return GroupOut(items=[], members=[GroupMember(user_id=m.user_id, display_name=m.display_name,  # type: ignore[arg-type]
                                                       mean_satisfaction=0.0) for m in members],
                        satisfaction={m.user_id: [] for m in members}, strategy=body.strategy, notes=notes,  # type: ignore[misc]
                        model_version=served.version_id, model=served.label)
    req = RecRequest(k=body.k, domain=body.domain, genres=genres, exclude_genres=exclude_genres,
                     year_min=body.year_min, year_max=body.year_max, available_only=body.available_only,
                     diversity=body.diversity, context=ctx)
    states = {m.user_id: svc.user_state(m.user_pk) for m in members}  # type: ignore[arg-type]
    with svc.timed("group"):
        result = served.engine.group(states, req, body.strategy)
    return GroupOut(
        items=[RecItem.of(r) for r in result.items],
        members=[GroupMember(user_id=m.user_id, display_name=m.display_name,  # type: ignore[arg-type]
                             mean_satisfaction=round(result.mean.get(m.user_id, 0.0), 4)) for m in members],
        satisfaction=result.satisfaction, strategy=result.strategy, context_reasons=result.context_reasons,
        notes=notes, model_version=served.version_id, model=served.label)
