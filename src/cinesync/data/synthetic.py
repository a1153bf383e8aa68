"""Synthetic data with known structure: for tests (planted clusters) and benchmarks (power law)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cinesync.data.arrays import unique_int
from cinesync.data.dataset import Interactions


def planted(n_users: int = 200, n_items: int = 100, n_clusters: int = 4, per_user: int = 20,
            noise: float = 0.1, seed: int = 0) -> Interactions:
    """Users in ``n_clusters`` groups, each group drawing mostly from its own block of items.

    A model that learns co-occurrence recommends the user's own block; popularity cannot,
    because every block is equally popular. Item popularity inside a block is skewed so
    top-k is well defined. Ratings are 4-5 in-block and 1-2 for noise; timestamps increase.
    Genres: the block number ("g0".."g{C-1}"); domain alternates movie / tv by block.
    """
    rng = np.random.default_rng(seed)
    block = np.arange(n_items) % n_clusters
    within = np.arange(n_items) // n_clusters
    weight = 1.0 / (1.0 + within) ** 0.5
    rows = []
    for u in range(n_users):
        c = u % n_clusters
        own = np.flatnonzero(block == c)
        p = weight[own] / weight[own].sum()
        n_own = int(round(per_user * (1 - noise)))
        items = list(rng.choice(own, size=min(n_own, len(own)), replace=False, p=p))
        others = np.setdiff1d(np.arange(n_items), own)
        items += list(rng.choice(others, size=per_user - len(items), replace=False))
        rng.shuffle(items)
        for t, i in enumerate(items):
            r = rng.integers(4, 6) if block[i] == c else rng.integers(1, 3)
            rows.append((f"u{u}", f"i{i}", float(r), 1_000_000 + u * 1000 + t))
    df = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    catalog = pd.DataFrame({
        "item_id": [f"i{i}" for i in range(n_items)],
        "title": [f"Item {i}" for i in range(n_items)],
        "year": 1990 + within,
        "genres": [(f"g{b}",) for b in block],
        "domain": ["movie" if b % 2 == 0 else "tv" for b in block],
    })
    return Interactions.from_frame(df, catalog=catalog, name="planted")


def power_law(n_users: int, n_items: int, n_interactions: int, alpha: float = 1.1,
              seed: int = 0) -> Interactions:
    """Random implicit data whose item popularity follows a Zipf-like law (benchmarks)."""
    rng = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, n_items + 1) ** alpha
    item_p /= item_p.sum()
    user_p = 1.0 / np.arange(1, n_users + 1) ** 0.5
    user_p /= user_p.sum()
    if n_interactions > n_users * n_items // 2:
        raise ValueError("power_law: ask for at most half of all user-item pairs")
    need = int(n_interactions * 1.2)
    u = rng.choice(n_users, size=need, p=user_p)
    i = rng.choice(n_items, size=need, p=item_p)
    key = unique_int(u.astype(np.int64) * n_items + i)
    while len(key) < n_interactions:  # popular pairs repeat: top up with uniform pairs (rarely repeat)
        extra = rng.integers(0, n_users * n_items, size=n_interactions - len(key) + 1000, dtype=np.int64)
        key = unique_int(np.concatenate([key, extra]))
    key = rng.permutation(key)[:n_interactions]
    u, i = (key // n_items).astype(np.int32), (key % n_items).astype(np.int32)
    from cinesync.data.ids import IdIndex

    users = IdIndex(np.arange(n_users).astype(str), kind="user")
    items = IdIndex(np.arange(n_items).astype(str), kind="item")
    ts = rng.integers(1_500_000_000, 1_600_000_000, size=len(u))
    return Interactions(users, items, u, i, None, ts, name=f"powerlaw-{n_users}x{n_items}")
