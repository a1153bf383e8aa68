"""HTTP error handling: every error is one RFC 9457 problem document (``application/problem+json``):
``{"type": "about:blank", "title": "<status phrase>", "status": 422, "detail": "<one readable sentence>",
"instance": "<path>"}``.

- request validation (FastAPI / pydantic) -> 422 with "query parameter k must be between 1 and
  100, got '500'"-style details instead of pydantic's raw error list; malformed JSON -> 400
  "request body is not valid JSON: ...".
- a path id that breaks the id rule -> 404 (it names nothing); ``UnknownIdError`` -> 404;
  ``DataError`` / ``ConfigError`` / other ``ValueError`` -> 422;
  database unreachable -> 503 with Retry-After; Starlette's own 404 / 405 (with Allow) keep their
  status. Anything else is a bug: 500 with a generic message (logged).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.status import HTTP_422_UNPROCESSABLE_CONTENT

from cinesync.errors import UnknownIdError
from cinesync.serving.http.schemas import ID, TEXT, UNION_TAG

log = logging.getLogger(__name__)

WHERE = {"query": "query parameter", "path": "path parameter", "body": "body field", "header": "header"}
#: allowed values of the bounded fields, quoted in messages whatever pydantic complained about
RULES = {
    "k": ("between 1 and 100", "an integer"),
    "rating": ("between 0.5 and 5 in steps of 0.5", "a number"),
    "diversity": ("between 0 and 1", "a number"),
    "tv_share": ("between 0 and 1", "a number"),
    "hour": ("between 0 and 23", "an integer"),
    "weekday": ("between 0 (Monday) and 6 (Sunday)", "an integer"),
    "time_budget": ("between 1 and 1440 minutes", "an integer"),
    "year_min": ("between 0 and 9999", "an integer"),
    "year_max": ("between 0 and 9999", "an integer"),
    "domain": ("one of 'movie', 'tv', 'all'", ""),
    "strategy": ("one of 'average', 'least_misery', 'fair'", ""),
    "kind": ("one of 'watched', 'dislike', 'not_interested', 'impression', 'click'", ""),
    "member_tokens": ("a list of 2 to 8 user tokens", ""),
}
_BOUNDS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "multiple_of")


def _field(loc: Sequence[Any]) -> tuple[str, str]:
    """("query parameter", "k") from a pydantic/FastAPI error location."""
    where = WHERE.get(str(loc[0]), str(loc[0])) if loc else "request"
    name = ""
    for part in loc[1:]:
        if isinstance(part, str) and part.startswith(UNION_TAG):
            continue  # which union member pydantic tried is not part of the field's name
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return where, name


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: what a declared pattern means, for messages
PATTERNS = {TEXT: "must not contain control characters",
            ID: "must be an id: no control characters, not blank, no spaces around it"}


def _rewrite(msg: str) -> str:
    """pydantic's "Input should be ..." -> "must be ..."."""
    msg = re.sub(r"^Input should be", "must be", msg)
    msg = re.sub(r"^Value error, ", "", msg)
    msg = msg.replace("Field required", "is required")
    return msg[:1].lower() + msg[1:] if msg and not msg[:2].isupper() else msg


def describe_error(err: dict[str, Any]) -> str:
    """One readable sentence for one pydantic error dict."""
    loc = err.get("loc", ())
    typ = err.get("type", "")
    where, name = _field(loc)
    leaf = name.rsplit(".", 1)[-1].split("[", 1)[0]
    if typ == "json_invalid":
        detail = (err.get("ctx") or {}).get("error", "")
        pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
        at = f" (at character {pos})" if pos is not None else ""
        return f"request body is not valid JSON: {detail}{at}".rstrip(": ")
    if typ == "missing":
        if not name:
            return "request body is required (a JSON object)"
        return f"{where} {name} is required"
    if typ == "unknown_model":
        model = err["input"].get("model") if isinstance(err.get("input"), dict) else None
        return f"body field model: unknown model {model!r}; {err.get('msg', '')}"
    if not name and where == "body field":
        return f"request body must be a JSON object: {_rewrite(err.get('msg', ''))}"
    if leaf in RULES and (typ in _BOUNDS or typ.endswith("_parsing") or typ.endswith("_type")
                          or typ in ("literal_error", "enum", "finite_number", "too_short", "too_long")):
        allowed, kind = RULES[leaf]
        if kind and (typ.endswith("_parsing") or typ.endswith("_type")):
            allowed = f"{kind} {allowed}"
        got = f", got {_short(err['input'])}" if "input" in err else ""
        return f"{where} {name} must be {allowed}{got}"
    pattern = (err.get("ctx") or {}).get("pattern")
    msg = PATTERNS.get(pattern) or _rewrite(str(err.get("msg", "is invalid")))
    got = f", got {_short(err['input'])}" if "input" in err and typ not in ("extra_forbidden",) else ""
    if typ == "extra_forbidden":
        return f"{where} {name} is not allowed (unknown field)"
    return f"{where} {name}: {msg}{got}" if name else f"{where}: {msg}{got}"


def describe_errors(errors: Sequence[dict[str, Any]]) -> str:
    """All errors of one request joined with "; " (duplicates dropped)."""
    return "; ".join(dict.fromkeys(describe_error(e) for e in errors)) or "invalid request"


PROBLEM = "application/problem+json"
#: the documented shape of every error response (RFC 9457)
PROBLEM_SCHEMA = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"}},
}


def problem(status: int, detail: str, headers: dict[str, str] | None = None, instance: str | None = None
            ) -> JSONResponse:
    """An RFC 9457 problem response."""
    from http import HTTPStatus

    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


def _json(status: int, detail: str, headers: dict[str, str] | None = None, request: Request | None = None
          ) -> JSONResponse:
    return problem(status, detail, headers, request.url.path if request is not None else None)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return _json(exc.status_code, detail, dict(exc.headers or {}) or None, request)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return _json(400, describe_errors([e for e in errors if e.get("type") == "json_invalid"]), request=request)
    if errors and all(_unaddressable(e) for e in errors):
        # a path that cannot name an id names nothing: 404, like any other unknown id
        return _json(404, "no such resource: " + describe_errors(errors), request=request)
    return _json(HTTP_422_UNPROCESSABLE_CONTENT, describe_errors(errors), request=request)


def _unaddressable(err: dict[str, Any]) -> bool:
    """A path id that breaks the id rule (pattern or length)."""
    loc = err.get("loc", ())
    return bool(loc) and loc[0] == "path" and err.get("type") in ("string_pattern_mismatch", "string_too_long")


async def _pydantic(request: Request, exc: pydantic.ValidationError) -> JSONResponse:
    return _json(422, describe_errors(exc.errors()), request=request)


async def _unknown(request: Request, exc: UnknownIdError) -> JSONResponse:
    return _json(404, str(exc), request=request)


async def _value(request: Request, exc: ValueError) -> JSONResponse:
    return _json(422, str(exc) or type(exc).__name__, request=request)


async def _db_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
    return _json(503, "the database is unavailable right now; retry shortly", {"Retry-After": "1"}, request)


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _json(500, f"internal error ({type(exc).__name__}); it has been logged", request=request)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(pydantic.ValidationError, _pydantic)
    app.add_exception_handler(UnknownIdError, _unknown)
    app.add_exception_handler(ValueError, _value)
    app.add_exception_handler(OperationalError, _db_down)
    app.add_exception_handler(PoolTimeoutError, _db_down)
    app.add_exception_handler(Exception, _bug)
