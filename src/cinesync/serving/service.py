"""``ServiceState``: what one running service holds — database sessions, the served Engine, caches.

The Engine is built from the promoted model version (``lifecycle.load_served_model`` +
``engine_snapshot``). Hot reload: at most once per ``reload_interval`` seconds a request starts
a background thread that checks which version is promoted; if it changed, that thread builds
the new Engine while requests keep using the old one, then swaps it in with one assignment
(atomic). Requests never wait for the check or the load. Admin calls that change the served
version reload synchronously, so their response (and every later request) already reflects it.
Token lookups (a minute) and user states (per feedback version, see ``cache``) are cached here.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cinesync.data.history import UserState
from cinesync.serving.cache import LRU, Cache, make_cache
from cinesync.serving.engine.engine import Engine
from cinesync.serving.jobs import Jobs
from cinesync.serving.lifecycle import engine_snapshot, load_served_model
from cinesync.serving.metrics import Metrics
from cinesync.serving.settings import Settings
from cinesync.store import repo
from cinesync.store.db import make_engine, migrate, session_factory
from cinesync.store.schema import Promotion, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """The Engine being served and the model version it came from."""

    engine: Engine
    version_id: int
    label: str
    model: str
    loaded_at: float
    #: identifies the engine's inputs (version, data snapshot, availability): part of every cache key,
    #: equal in every process that loaded the same state, so Redis entries are shared between them
    stamp: str


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to. ``user_pk`` / ``user_id`` are None for the environment admin token."""

    user_pk: int | None
    user_id: str | None
    is_admin: bool
    display_name: str | None = None


ADMIN = Principal(None, None, True, "admin")


def _stamp(version_id: int, checksum: str, availability: dict[str, set[tuple[str, str]]]) -> str:
    h = hashlib.blake2b(f"{version_id}:{checksum}".encode(), digest_size=8)
    for item in sorted(availability):
        h.update(f"|{item}:{sorted(availability[item])}".encode())
    return f"{version_id}.{h.hexdigest()}"


class ServiceState:
    """Sessions, the hot-reloaded Engine and the caches of one service process.

    settings: where the database / models / Redis are. cache: override the backend (tests).
    rec_cache: False disables the response cache (benchmarks of the uncached path).
    clock: "now" for context defaults (tests fix it). reload_interval: seconds between checks.
    freeze_gc: after each (re)load, move every live object out of the garbage collector's view
    (``gc.freeze``). A full collection over the Engine's ~200k objects takes ~100 ms and would
    otherwise land, now and then, in the middle of a request; for a dedicated server process.
    compute_threads: worker threads for uncached recommendation computations. The engine is mostly
    GIL-bound Python, so one thread serves more requests per second than several fighting for the GIL
    (measured on 2 cores: 196 vs 188 req/s saturated) and keeps the event loop responsive.
    """

    def __init__(self, settings: Settings, *, cache: Cache | None = None, rec_cache: bool = True,
                 clock: Callable[[], datetime] | None = None, reload_interval: float = 1.0,
                 redis_prefix: str = "cinesync:", freeze_gc: bool = False, compute_threads: int = 1) -> None:
        self.settings = settings
        self.db = make_engine(settings.database_url)
        migrate(self.db)
        self.sessions = session_factory(self.db)
        self.cache: Cache = cache if cache is not None else make_cache(settings.redis_url, prefix=redis_prefix)
        self.rec_cache = rec_cache
        self.clock = clock or datetime.now
        self.metrics = Metrics()
        self.reload_interval = reload_interval
        self.freeze_gc = freeze_gc
        self.principals = LRU(max_entries=50_000, ttl=60.0)  # token hash -> Principal
        self.states = LRU(max_entries=5_000, ttl=300.0)  # f"{user_pk}:{feedback version}" -> UserState
        #: engine computations run here: few threads, so they do not fight the event loop for the GIL
        self.compute_pool = ThreadPoolExecutor(max_workers=compute_threads, thread_name_prefix="cinesync-engine")
        #: admin trainings and imports, one at a time, off the request path
        self.jobs = Jobs()
        self._served: Served | None = None
        self._load_lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._last_check = 0.0
        self._loader: threading.Thread | None = None
        self.last_load_error: str | None = None
        self._failed_version: int | None = None  # not retried by the periodic check (admin calls retry)
        self.reload(force=True)

    # ---- sessions ------------------------------------------------------------
    def read(self) -> Session:
        """A session for reads: ``with svc.read() as s: ...`` (no commit)."""
        return self.sessions()

    def write(self):  # noqa: ANN201  (contextmanager of Session)
        """A transaction: ``with svc.write() as s: ...`` commits on success, rolls back on error."""
        return self.sessions.begin()

    def db_ok(self) -> str | None:
        """None if the database answers, else why not."""
        try:
            with self.db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as e:  # noqa: BLE001 - any failure is "not ready", with the reason
            return f"database unreachable: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return None

    # ---- the served engine ---------------------------------------------------
    @property
    def served(self) -> Served | None:
        """The current Engine (checking for a newly promoted version at most once per interval)."""
        self._maybe_check()
        return self._served

    def _promoted_id(self) -> int | None:
        with self.read() as s:
            return s.scalar(select(Promotion.version_pk).order_by(Promotion.id.desc()).limit(1))

    def _maybe_check(self) -> None:
        """Start a background check for a newly promoted version when one is due (never blocks)."""
        if time.monotonic() - self._last_check < self.reload_interval or not self._check_lock.acquire(blocking=False):
            return
        self._last_check = time.monotonic()
        try:
            self._loader = threading.Thread(target=self._check, name="cinesync-reload", daemon=True)
            self._loader.start()
        except BaseException:
            self._check_lock.release()
            raise

    def _check(self) -> None:
        """(Background thread, holding the check lock.) Reload if the promoted version changed."""
        try:
            promoted = self._promoted_id()
            current = self._served.version_id if self._served is not None else None
            if promoted is not None and promoted != current and promoted != self._failed_version:
                self.reload()
        except Exception:  # noqa: BLE001 - keep serving the current engine
            log.exception("checking for a newly promoted model version failed; still serving the current one")
        finally:
            self._last_check = time.monotonic()
            self._check_lock.release()

    def reload(self, force: bool = False) -> Served | None:
        """Load the promoted version if it differs from the served one (or ``force``); returns what is served.

        Errors loading a version are logged and recorded in ``last_load_error``; the previous
        Engine (if any) keeps serving.
        """
        with self._load_lock:
            t0 = time.perf_counter()
            promoted = None
            try:
                with self.read() as s:
                    promoted = repo.promoted_version(s)
                    if promoted is None:
                        self.last_load_error = "no model version is promoted yet"
                        return self._served
                    if not force and self._served is not None and self._served.version_id == promoted.id:
                        return self._served
                    loaded = load_served_model(s)
                    if loaded is None:
                        return self._served
                    model, items, mv = loaded
                    data = engine_snapshot(s, items)
                    availability = repo.availability_map(s)
                engine = Engine(model, data, availability=availability, clock=self.clock)
            except Exception as e:
                self.last_load_error = f"loading the promoted model failed: {type(e).__name__}: {e}"
                self.metrics.reloads.labels("error").inc()
                self._failed_version = promoted.id if promoted is not None else None
                log.exception("loading the promoted model version failed")
                return self._served
            stamp = _stamp(mv.id, data.checksum(), availability)
            self._served = Served(engine, mv.id, mv.label, mv.model, time.time(), stamp)
            del engine, data, model
            if self.freeze_gc:  # unfreeze so the previous engine can be freed, then freeze the new one
                gc.unfreeze()
                gc.collect()
                gc.freeze()
            self.last_load_error = None
            self._failed_version = None
            self._last_check = time.monotonic()
            self.metrics.model_version.set(mv.id)
            self.metrics.reloads.labels("ok").inc()
            log.info("serving %s (id %d); engine built in %.2fs", mv.label, mv.id, time.perf_counter() - t0)
            return self._served

    # ---- users ---------------------------------------------------------------
    def cached_principal(self, token: str) -> Principal | None:
        """``principal`` without touching the database (None = unknown here, ask ``principal``)."""
        admin = self.settings.admin_token
        if admin and hmac.compare_digest(token.encode(), admin.encode()):
            return ADMIN
        return self.principals.get(repo.hash_token(token))

    def principal(self, token: str) -> Principal | None:
        """Who holds ``token`` (env admin token or a user's), cached for a minute; None if nobody."""
        p = self.cached_principal(token)
        if p is not None:
            return p
        key = repo.hash_token(token)
        with self.read() as s:
            u = repo.user_by_token(s, token)
            if u is None:
                return None
            p = Principal(u.id, u.external_id, bool(u.is_admin), u.display_name)
        self.principals.set(key, p)
        return p

    def forget_principals(self) -> None:
        """Drop cached token lookups (after a user's profile changed)."""
        self.principals.clear()

    def feedback_version(self, user_pk: int) -> int:
        return self.cache.version(f"u{user_pk}")

    def after_write(self, user_pk: int) -> None:
        """Call after a committed write changing what ``user_pk`` sees: invalidates their cached lists."""
        self.cache.bump(f"u{user_pk}")

    def user_state(self, user_pk: int, version: int | None = None) -> UserState:
        """The user's current UserState; cached per feedback version (read the version BEFORE calling)."""
        version = self.feedback_version(user_pk) if version is None else version
        key = f"{user_pk}:{version}"
        if version >= 0:
            hit = self.states.get(key)
            if hit is not None:
                return hit
        with self.read() as s:
            user = s.get(User, user_pk)
            if user is None:
                from cinesync.errors import UnknownIdError

                raise UnknownIdError(f"unknown user (row {user_pk})")
            state = repo.user_state(s, user)
        if version >= 0:
            self.states.set(key, state)
        return state

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        """Observe the duration of an engine computation in the recommendation histogram."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.recommend.labels(kind).observe(time.perf_counter() - t0)

    def close(self) -> None:
        """Stop the reload thread (if any) and close database connections."""
        if self._loader is not None:
            self._loader.join(timeout=30)
        self.jobs.close()
        self.compute_pool.shutdown(wait=True)
        self.db.dispose()
