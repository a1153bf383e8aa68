"""Response cache for the service: an in-process LRU with TTL, or Redis when a URL is configured.

Personal results are keyed by (user, normalised query, model version, the user's *feedback
version*). Every write that changes what a user should see bumps that user's feedback version
(after its transaction commits, before its response returns), so entries computed before the
write can never be read again: a client never sees a stale list after its own write.

Why "bump after commit" is safe: a reader reads the feedback version FIRST and the database
SECOND. If it read the old version, whatever it computes is stored under the old key, which no
one reads after the bump; if it read the new version, the commit already happened, so the state
it reads includes the write.

``MemoryCache`` is for one process (the default); ``RedisCache`` shares entries and versions
between processes (several workers or hosts). Values are bytes (serialised JSON responses).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 300.0
DEFAULT_MAX_ENTRIES = 10_000
#: Redis feedback-version keys live this long after their last bump (far longer than any entry)
VERSION_TTL_S = 7 * 86400
#: after a Redis error the cache is bypassed this long (a missed bump must not let stale entries through)
REDIS_BACKOFF_S = 30.0


class Cache(Protocol):
    """What the service needs from a cache backend."""

    kind: str

    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...
    def version(self, user: str) -> int: ...
    def bump(self, user: str) -> int: ...
    def clear(self) -> None: ...


class LRU:
    """Thread-safe LRU map with a per-entry time-to-live (monotonic clock)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, ttl: float = DEFAULT_TTL_S) -> None:
        if max_entries < 1 or ttl <= 0:
            raise ValueError(f"LRU needs max_entries >= 1 and ttl > 0, got {max_entries}, {ttl}")
        self.max_entries = max_entries
        self.ttl = ttl
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if hit[0] <= now:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return hit[1]

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        expires = time.monotonic() + (self.ttl if ttl is None else ttl)
        with self._lock:
            self._data[key] = (expires, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def pop(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class MemoryCache:
    """In-process cache: LRU entries with TTL plus a never-evicted feedback version per user."""

    kind = "memory"

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, ttl: float = DEFAULT_TTL_S) -> None:
        self.entries = LRU(max_entries, ttl)
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        return self.entries.get(key)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.entries.set(key, value, ttl)

    def version(self, user: str) -> int:
        return self._versions.get(user, 0)

    def bump(self, user: str) -> int:
        with self._lock:
            v = self._versions.get(user, 0) + 1
            self._versions[user] = v
            return v

    def clear(self) -> None:
        self.entries.clear()


class RedisCache:
    """Redis-backed cache shared by processes; every key starts with ``prefix``.

    Entries: ``{prefix}e:{key}`` with SET EX; feedback versions: ``{prefix}v:{user}`` with INCR.
    A Redis error never fails a request: reads become misses, and the cache is bypassed for
    ``REDIS_BACKOFF_S`` so that a bump lost while Redis was unreachable cannot resurrect stale entries.
    """

    kind = "redis"

    def __init__(self, url: str, prefix: str = "cinesync:", ttl: float = DEFAULT_TTL_S,
                 timeout_s: float = 0.5) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self.prefix = prefix
        self.ttl = ttl
        self.url = url
        self._down_until = 0.0

    def _ok(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, what: str, e: Exception) -> None:
        self._down_until = time.monotonic() + REDIS_BACKOFF_S
        log.warning("redis %s failed (%s: %s); cache bypassed for %.0fs", what, type(e).__name__, e, REDIS_BACKOFF_S)

    def ping(self) -> bool:
        """True if Redis answers (used by readiness checks and tests)."""
        try:
            return bool(self.client.ping())
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False

    def get(self, key: str) -> bytes | None:
        if not self._ok():
            return None
        try:
            return self.client.get(self.prefix + "e:" + key)
        except Exception as e:  # noqa: BLE001 - redis errors degrade to a miss
            self._failed("get", e)
            return None

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        if not self._ok():
            return
        try:
            self.client.set(self.prefix + "e:" + key, value, px=max(int((self.ttl if ttl is None else ttl) * 1000), 1))
        except Exception as e:  # noqa: BLE001
            self._failed("set", e)

    def version(self, user: str) -> int:
        if not self._ok():
            return -1  # never matches a stored entry's version (entries are only stored when Redis is up)
        try:
            v = self.client.get(self.prefix + "v:" + user)
        except Exception as e:  # noqa: BLE001
            self._failed("version", e)
            return -1
        return int(v) if v is not None else 0

    def bump(self, user: str) -> int:
        key = self.prefix + "v:" + user
        try:
            pipe = self.client.pipeline()
            pipe.incr(key)
            pipe.expire(key, VERSION_TTL_S)
            v, _ = pipe.execute()
            return int(v)
        except Exception as e:  # noqa: BLE001
            self._failed("bump", e)
            return -1

    def clear(self) -> None:
        """Delete every key under this cache's prefix."""
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=500))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start:start + 500])


def make_cache(redis_url: str | None, prefix: str = "cinesync:", ttl: float = DEFAULT_TTL_S) -> Cache:
    """RedisCache when ``redis_url`` is set, else MemoryCache."""
    if redis_url:
        return RedisCache(redis_url, prefix=prefix, ttl=ttl)
    return MemoryCache(ttl=ttl)
