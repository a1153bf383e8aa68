"""Scoped runtime settings for one fit: torch's random state and thread count.

Both are process-global in torch; ``seeded`` and ``torch_threads`` set them for the duration of a
``with`` block and restore the caller's values afterwards, so fitting a model never changes the
random stream or the thread count of the code around it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def seeded(seed: int, device: str = "cpu") -> Iterator[None]:
    """torch's global generators seeded with ``seed`` inside the block; the caller's state is restored."""
    import torch

    devices = list(range(torch.cuda.device_count())) if device == "cuda" and torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """torch's intra-op thread count set to ``threads`` (None: every available core, never fewer than
    torch's own default) inside the block; yields the count in effect."""
    import torch

    before = torch.get_num_threads()
    n = int(threads) if threads else max(before, available_cores())
    if n != before:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
