"""Helpers shared by the routers: the served engine (or 503), comma-separated lists, error docs."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from fastapi.responses import Response

from cinesync.serving.http.schemas import printable
from cinesync.serving.service import Served, ServiceState

MAX_LIST = 50


def need_engine(svc: ServiceState) -> Served:
    """The served Engine, or 503 saying why there is none."""
    served = svc.served
    if served is None:
        why = svc.last_load_error or "no model version is promoted yet"
        raise HTTPException(503, f"no model is being served ({why}): train one with POST /v1/admin/train "
                                 "or `cinesync train`", {"Retry-After": "5"})
    return served


def split_list(value: str | None, name: str) -> list[str]:
    """"Drama, Comedy" -> ["Drama", "Comedy"] (empty entries dropped, duplicates removed); 422 if too long."""
    if value is None:
        return []
    parts = list(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    if len(parts) > MAX_LIST:
        raise HTTPException(422, f"query parameter {name} lists {len(parts)} values; at most {MAX_LIST} allowed")
    for p in parts:
        try:
            printable(p)
        except ValueError:
            raise HTTPException(422, f"query parameter {name}: {p!r} must not contain control characters") from None
    return parts


def json_bytes(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response from already-serialised bytes (cache hits skip re-validation)."""
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the error codes a route can return."""
    text = {400: "Malformed request body (not valid JSON)", 401: "Missing or invalid token",
            403: "Token does not belong to this user, or admin rights required", 404: "Unknown user or item id",
            409: "Conflict with the current state", 422: "Invalid parameter or body field",
            503: "No model served yet, or the database is unavailable"}
    return {c: {"description": text[c], "content": {"application/json": {"schema": {
        "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}}}} for c in codes}
