"""Repository functions over a Session: users and tokens, events, user state, catalogue, versions.

Every function validates its input and raises ``cinesync.errors`` exceptions with precise
messages; none commits — callers own the transaction (``with factory.begin() as s: ...``).
Bulk imports live in ``importer``, the training snapshot in ``snapshot`` and model versions in
``versions``; they are re-exported here so ``repo`` is the one import the service needs.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cinesync.data.history import UserState
from cinesync.data.ratings import STARS
from cinesync.errors import DataError, UnknownIdError
from cinesync.store.importer import import_availability, import_interactions
from cinesync.store.schema import EVENT_KINDS, Availability, Event, Item, ModelVersion, User
from cinesync.store.snapshot import NEGATIVE_KINDS, POSITIVE_KINDS, catalog_frame, interactions_snapshot
from cinesync.store.versions import (
    get_version,
    list_versions,
    next_version,
    promote,
    promoted_version,
    promotion_history,
    register_version,
    rollback,
)

__all__ = [
    "EVENT_KINDS", "POSITIVE_KINDS", "NEGATIVE_KINDS", "add_event", "availability_map", "catalog_frame",
    "counts", "create_user", "get_item", "get_user", "get_version", "hash_token", "import_availability",
    "import_interactions", "interactions_snapshot", "list_versions", "next_version", "promote",
    "promoted_version", "promotion_history", "register_version", "rollback", "update_user", "user_by_token",
    "user_state", "validate_rating",
]

#: the scale the store, the HTTP API and the bot accept (``cinesync.data.ratings.STARS``)
RATING_SCALE = STARS
RATING_MIN, RATING_MAX, RATING_STEP = STARS.low, STARS.high, STARS.step


def hash_token(token: str) -> str:
    """sha256 hex digest of an API token — the only form the database ever holds."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_providers(providers: Iterable[str] | None) -> list[str]:
    out = []
    for p in providers or []:
        if not isinstance(p, str) or not p.strip():
            raise DataError(f"providers must be non-empty strings, got {p!r}")
        out.append(p.strip())
    return list(dict.fromkeys(out))


def _clean_region(region: str | None) -> str | None:
    if region is None:
        return None
    r = region.strip().upper()
    if not (2 <= len(r) <= 8 and r.isalnum()):
        raise DataError(f"region must be a country code like 'US' or 'DE', got {region!r}")
    return r


def create_user(s: Session, display_name: str | None = None, external_id: str | None = None,
                is_admin: bool = False, region: str | None = None,
                providers: Iterable[str] | None = None) -> tuple[User, str]:
    """Create a user with a fresh API token; returns (user, plaintext token — shown once)."""
    if external_id is None:
        external_id = f"u{secrets.token_hex(6)}"
    external_id = str(external_id).strip()
    if not external_id or len(external_id) > 128:
        raise DataError(f"user id must be 1..128 characters, got {external_id!r}")
    if s.scalar(select(User.id).where(User.external_id == external_id)) is not None:
        raise DataError(f"user id {external_id!r} already exists")
    if display_name is not None and len(display_name) > 200:
        raise DataError(f"display name longer than 200 characters: {display_name[:40]!r}...")
    token = secrets.token_urlsafe(32)
    user = User(external_id=external_id, display_name=display_name, token_hash=hash_token(token),
                is_admin=bool(is_admin), region=_clean_region(region), providers=_clean_providers(providers))
    s.add(user)
    s.flush()
    return user, token


def user_by_token(s: Session, token: str | None) -> User | None:
    """The user holding ``token``, or None (unknown, empty or malformed token)."""
    if not token:
        return None
    return s.scalar(select(User).where(User.token_hash == hash_token(token)))


def get_user(s: Session, user_id: str) -> User:
    """The user with external id ``user_id``; UnknownIdError if there is none."""
    user = s.scalar(select(User).where(User.external_id == str(user_id)))
    if user is None:
        raise UnknownIdError(f"unknown user id {str(user_id)!r}")
    return user


def get_item(s: Session, item_id: str) -> Item:
    """The catalogue item ``item_id``; UnknownIdError if there is none."""
    item = s.scalar(select(Item).where(Item.item_id == str(item_id)))
    if item is None:
        raise UnknownIdError(f"unknown item id {str(item_id)!r}")
    return item


def validate_rating(value: float) -> float:
    """``value`` as float if it is on the store's scale (0.5..5 in steps of 0.5), else DataError naming it."""
    return RATING_SCALE.check(value)


def add_event(s: Session, user: User, item_id: str, kind: str, value: float | None = None,
              ts: float | None = None) -> Event:
    """Record one API event (validated first, so a bad call leaves the database unchanged).

    kind: one of EVENT_KINDS. value: the rating for "rating" (required) and "watched" (optional),
    0.5..5 in steps of 0.5; for other kinds an optional finite number. ts: epoch seconds (default now).
    """
    if kind not in EVENT_KINDS:
        raise DataError(f"unknown event kind {kind!r}; expected one of {', '.join(EVENT_KINDS)}")
    if kind == "rating" and value is None:
        raise DataError(f"a rating event needs a value ({RATING_MIN}..{RATING_MAX} in steps of {RATING_STEP})")
    if value is not None:
        if kind in POSITIVE_KINDS:
            value = validate_rating(value)
        elif not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DataError(f"event value must be a finite number, got {value!r}")
    ts = time.time() if ts is None else ts
    if not isinstance(ts, (int, float)) or not math.isfinite(ts) or ts < 0:
        raise DataError(f"event ts must be epoch seconds >= 0, got {ts!r}")
    item = get_item(s, item_id)
    ev = Event(user_pk=user.id, item_pk=item.id, kind=kind, value=None if value is None else float(value),
               ts=float(ts), source="api")
    s.add(ev)
    s.flush()
    return ev


def user_state(s: Session, user: User) -> UserState:
    """The user's current state, replaying their events in time order (ties by insertion).

    rating / watched: the item joins (or stays in) the history at the event's time; a rating
    replaces the earlier one, a watched without value keeps it. dislike / not_interested: the
    item leaves the history and is blocked (a later rating unblocks it). watchlist = items
    added and not removed later. impressions and clicks do not change the state.
    """
    rows = s.execute(
        select(Event.kind, Event.value, Event.ts, Item.item_id).join(Item, Event.item_pk == Item.id)
        .where(Event.user_pk == user.id).order_by(Event.ts, Event.id)
    ).all()
    hist: dict[str, tuple[float | None, float, int]] = {}  # item -> (rating, ts, order)
    blocked: set[str] = set()
    watchlist: dict[str, None] = {}
    for n, (kind, value, ts, item) in enumerate(rows):
        if kind in POSITIVE_KINDS:
            rating = value if value is not None else (hist[item][0] if item in hist else None)
            hist[item] = (rating, float(ts), n)
            blocked.discard(item)
        elif kind in NEGATIVE_KINDS:
            hist.pop(item, None)
            blocked.add(item)
        elif kind == "watchlist_add":
            watchlist[item] = None
        elif kind == "watchlist_remove":
            watchlist.pop(item, None)
    order = sorted(hist, key=lambda i: (hist[i][1], hist[i][2]))
    return UserState(
        history=tuple(order),
        ratings=tuple(hist[i][0] for i in order),
        timestamps=tuple(hist[i][1] for i in order),
        blocked=frozenset(blocked),
        watchlist=tuple(watchlist),
        providers=frozenset(user.providers or ()),
        region=user.region,
    )


def availability_map(s: Session) -> dict[str, set[tuple[str, str]]]:
    """item_id -> {(provider, region), ...} for every item with at least one offer."""
    out: dict[str, set[tuple[str, str]]] = {}
    rows = s.execute(select(Item.item_id, Availability.provider, Availability.region)
                     .join(Item, Availability.item_pk == Item.id))
    for item_id, provider, region in rows:
        out.setdefault(item_id, set()).add((provider, region))
    return out


def update_user(s: Session, user: User, display_name: str | None = None, region: str | None = None,
                providers: Iterable[str] | None = None) -> User:
    """Change a user's display name, region or providers (None leaves a field as it is)."""
    if display_name is not None:
        if len(display_name) > 200:
            raise DataError(f"display name longer than 200 characters: {display_name[:40]!r}...")
        user.display_name = display_name
    if region is not None:
        user.region = _clean_region(region)
    if providers is not None:
        user.providers = _clean_providers(providers)
    s.flush()
    return user


def counts(s: Session) -> dict[str, int]:
    """Row counts: users, items, events, availability, model_versions."""
    tables = {"users": User, "items": Item, "events": Event, "availability": Availability,
              "model_versions": ModelVersion}
    return {name: int(s.scalar(select(func.count()).select_from(t)) or 0) for name, t in tables.items()}
