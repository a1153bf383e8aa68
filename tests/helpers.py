"""Small helpers several test folders share."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for a server a test starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


#: the shared data folder next to the checkout (``<checkout>/../shared/data``); tests that need it skip without it
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
