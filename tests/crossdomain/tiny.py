"""Tiny two-domain data for the cross-domain tests: users whose film taste predicts their series taste."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cinesync.data.dataset import Interactions


def two_domain(n_users: int = 120, n_movies: int = 24, n_tv: int = 36, n_other: int = 8, seed: int = 0,
               overlap: bool = True) -> Interactions:
    """Users in 3 taste groups; each group has its own third of the movies and of the TV items.

    Every user rates 6 movies and (if ``overlap``, else only even users) 8 TV items, mostly from
    their group's block, plus 2 "other" items. Ratings 1-10. Domains: movie / tv / other.
    """
    rng = np.random.default_rng(seed)
    rows = []
    blocks = {"m": n_movies, "t": n_tv, "o": n_other}
    for u in range(n_users):
        g = u % 3
        for prefix, n_dom in blocks.items():
            if prefix == "t" and not overlap and u % 2:
                continue
            per = {"m": 6, "t": 8, "o": 2}[prefix]
            own = np.arange(n_dom)[np.arange(n_dom) % 3 == g]
            pick = list(rng.choice(own, size=min(per - 1, len(own)), replace=False))
            pick.append(int(rng.integers(n_dom)))
            for i in dict.fromkeys(int(p) for p in pick):
                rows.append((f"u{u}", f"{prefix}{i}", float(rng.integers(1, 11))))
    df = pd.DataFrame(rows, columns=["user", "item", "rating"])
    ids = [f"{p}{i}" for p, n in blocks.items() for i in range(n)]
    dom = {"m": "movie", "t": "tv", "o": "other"}
    catalog = pd.DataFrame({"item_id": ids, "title": ids, "domain": [dom[i[0]] for i in ids]})
    return Interactions.from_frame(df, catalog=catalog, name="two-domain")
