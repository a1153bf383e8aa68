"""Small helpers several test folders share."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for a server a test starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


#: the shared data folder next to the checkout (``<checkout>/../shared/data``); tests that need it skip without it
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


#: the PostgreSQL server the database tests use (they skip, saying why, when it does not answer)
PG_URL = os.environ.get("CINESYNC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_error(url: str = PG_URL) -> str | None:
    """None if PostgreSQL answers at ``url``, else why not."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # any failure means "skip", with the reason shown
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    return None
