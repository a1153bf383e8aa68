"""Helpers shared by the routers: the served engine (or 503), comma-separated lists, error docs."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from fastapi.responses import Response

from cinesync.serving.engine.engine import Engine
from cinesync.serving.http.errors import PROBLEM, PROBLEM_SCHEMA
from cinesync.serving.http.schemas import printable
from cinesync.serving.service import Served, ServiceState


def need_engine(svc: ServiceState) -> Served:
    """The served Engine, or 503 saying why there is none."""
    served = svc.served
    if served is None:
        why = svc.last_load_error or "no model version is promoted yet"
        raise HTTPException(503, f"no model is being served ({why}): train one with POST /v1/admin/train "
                                 "or `cinesync train`", {"Retry-After": "5"})
    return served


def split_list(value: str | None, name: str) -> list[str]:
    """"Drama, Comedy" -> ["Drama", "Comedy"] (empty entries dropped, duplicates removed); the parameter's
    length limit and character rule are declared in the schema."""
    if value is None:
        return []
    parts = list(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    for p in parts:
        try:
            printable(p)
        except ValueError:
            raise HTTPException(422, f"query parameter {name}: {p!r} must not contain control characters") from None
    return parts


def known_genres(engine: Engine, names: list[str], name: str, notes: list[str]) -> list[str]:
    """The genres of ``names`` the catalogue has; each unknown one is left out and noted in ``notes``."""
    valid = {g.lower(): g for g in engine.genres()}
    known = [valid[n.lower()] for n in names if n.lower() in valid]
    unknown = [n for n in names if n.lower() not in valid]
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        notes.append(f"{name}: unknown genre(s) {shown} matched nothing (GET /v1/genres lists them)")
    return known


def json_bytes(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response from already-serialised bytes (cache hits skip re-validation)."""
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the error codes a route can return."""
    text = {400: "Malformed request body (not valid JSON)", 401: "Missing or invalid token",
            403: "Token does not belong to this user, or admin rights required", 404: "Unknown user or item id",
            409: "Conflict with the current state", 422: "Invalid parameter or body field",
            503: "No model served yet, or the database is unavailable"}
    text |= {405: "Method not allowed on this path (the Allow header lists the allowed ones)",
             413: "Request body too large", 429: "Too many requests: retry after the Retry-After seconds"}
    return {c: {"description": text[c], "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}} for c in codes}
