"""Bearer-token authentication and per-user authorisation (FastAPI dependencies).

Tokens: ``Authorization: Bearer <token>``; the store keeps only their sha256. A user token
reads and writes only its own user's data (another user's -> 403 "token does not belong to
user ..."); a missing or unknown token -> 401. Admin = a user with ``is_admin`` or the
environment admin token (``Settings.admin_token``); admins may act on any user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from cinesync.serving.http.schemas import ID, MAX_ID, check_id
from cinesync.serving.service import Principal, ServiceState
from cinesync.store import repo

bearer = HTTPBearer(auto_error=False, description="an API token from POST /v1/users (or the admin token)")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def service(request: Request) -> ServiceState:
    """The app's ServiceState."""
    return request.app.state.service


Service = Annotated[ServiceState, Depends(service)]


def token_of(request: Request, creds: HTTPAuthorizationCredentials | None) -> str:
    """The bearer token, or 401 saying what is wrong with the Authorization header."""
    if creds is None:
        if request.headers.get("authorization"):
            raise HTTPException(401, "malformed Authorization header: expected 'Bearer <token>'", CHALLENGE)
        raise HTTPException(401, "missing token: send 'Authorization: Bearer <token>'", CHALLENGE)
    token = creds.credentials.strip()
    if not token or len(token) > 512 or not token.isprintable():
        raise HTTPException(401, "invalid token", CHALLENGE)
    return token


async def principal(request: Request,
                    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """The caller; 401 without a valid token. Cached lookups stay on the event loop, database ones do not."""
    svc: ServiceState = request.app.state.service
    token = token_of(request, creds)
    p = svc.cached_principal(token)
    if p is None:
        p = await run_in_threadpool(svc.principal, token)
    if p is None:
        raise HTTPException(401, "invalid token: no user holds it", CHALLENGE)
    return p


Caller = Annotated[Principal, Depends(principal)]


async def admin(p: Caller) -> Principal:
    """The caller if they are an admin, else 403."""
    if not p.is_admin:
        raise HTTPException(403, "admin rights required: use an admin user's token or the admin token")
    return p


Admin = Annotated[Principal, Depends(admin)]


@dataclass(frozen=True)
class Owner:
    """The user a /v1/users/{user_id}/... request acts on (already authorised)."""

    pk: int
    user_id: str


UserIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID, pattern=ID,
                                  description="the user's id (from POST /v1/users)")]


async def owner(user_id: UserIdPath, p: Caller, request: Request) -> Owner:
    """Authorise acting on ``user_id``: the token's own user, or any existing user for an admin."""
    if p.user_id is not None and p.user_id == user_id:
        return Owner(p.user_pk, user_id)  # type: ignore[arg-type]
    if not p.is_admin:
        raise HTTPException(403, f"token does not belong to user {user_id!r}")
    return await run_in_threadpool(_lookup, request.app.state.service, check_id(user_id, "user id"))


def _lookup(svc: ServiceState, user_id: str) -> Owner:
    with svc.read() as s:
        user = repo.get_user(s, user_id)  # UnknownIdError -> 404
        return Owner(user.id, user.external_id)


Own = Annotated[Owner, Depends(owner)]
