"""The MyAnimeList 5k-user sample (CaseRecommender "anime" set): films, TV series and OVAs rated by the same users.

Files (tab-separated, with header): anime_ratings.dat / anime_history.dat (User_ID, Anime_ID, Feedback) and
anime_info.dat (anime_ids, name, genre, type, episodes, rating, members). This is the movie <-> TV
cross-domain set: type Movie -> domain "movie", TV -> "tv", anything else (OVA, Special, ONA, Music,
missing) -> "other". There are no timestamps, so ``timestamp`` is None and histories keep file order.
"""

from __future__ import annotations

import html
import logging
import os
import time
from typing import Literal

import numpy as np
import pandas as pd

from cinesync.data.dataset import Interactions
from cinesync.data.loaders.files import Source, read_table
from cinesync.data.loaders.rows import BadRows, Skipped, check_ratings
from cinesync.data.loaders.tabular import build_interactions
from cinesync.data.ratings import TEN
from cinesync.errors import ConfigError, DataError

log = logging.getLogger(__name__)

INFO = "anime_info.dat"
FEEDBACK_FILES = {"ratings": "anime_ratings.dat", "history": "anime_history.dat"}
DOMAIN_OF_TYPE = {"Movie": "movie", "TV": "tv"}
_INFO_COLUMNS = ["anime_ids", "name", "genre", "type", "episodes", "rating", "members"]
_FEEDBACK = {"User_ID": "int64", "Anime_ID": "int64", "Feedback": "float32"}
SCALE = TEN


def detect(src: Source) -> str | None:
    """Root folder holding anime_info.dat, or None."""
    roots = src.roots([INFO])
    return roots[0] if roots else None


def load_anime(path: str | os.PathLike[str], feedback: Literal["ratings", "history"] = "ratings",
               name: str | None = None, bad_rows: BadRows = "error", report: list[Skipped] | None = None
               ) -> Interactions:
    """Load the anime set from anime.zip or its extracted folder (or the folder's parent).

    feedback="ratings": explicit 1-10 ratings from anime_ratings.dat (default). "history": implicit
    watched events from anime_history.dat, loaded with ``rating`` None. Items listed in anime_info.dat
    that nobody rated stay in the catalogue (extra columns: type, episodes, members). Ratings must lie
    on ``SCALE`` (1..10); ``bad_rows`` as in ``load_table``.
    """
    if feedback not in FEEDBACK_FILES:
        raise ConfigError(f"anime feedback must be one of {list(FEEDBACK_FILES)}, got {feedback!r}")
    t0 = time.perf_counter()
    wanted = FEEDBACK_FILES[feedback]
    with Source(path) as src:
        root = detect(src)
        if root is None or src.find(root, wanted) is None:
            raise src.missing([INFO, wanted], f"the anime data set ({feedback})")
        df = read_table(src, root + wanted, sep="\t", required=list(_FEEDBACK), numeric=_FEEDBACK)
        if feedback == "ratings":
            df = check_ratings(src, root + wanted, df, "Feedback", SCALE, True, bad_rows, report)
        catalog = read_info(src, root + INFO)
    rating = df["Feedback"].to_numpy(np.float32) if feedback == "ratings" else None
    name = name or ("anime" if feedback == "ratings" else "anime-history")
    data = build_interactions(df["User_ID"].to_numpy(), df["Anime_ID"].to_numpy(), rating, None, catalog, name)
    unknown = len(data.items) - len(catalog)
    if unknown > 0:
        log.warning("%s: %d rated items are missing from %s (no title/type; domain 'other')", name, unknown, INFO)
    log.info("loaded %s in %.2fs: %r; catalogue domains %s", name, time.perf_counter() - t0, data,
             data.catalog.frame["domain"].value_counts().to_dict())
    return data


def read_info(src: Source, member: str) -> pd.DataFrame:
    """anime_info.dat as a catalogue frame: item_id, title, genres, domain, type, episodes, members."""
    info = read_table(src, member, sep="\t", required=_INFO_COLUMNS, numeric={"anime_ids": "int64"},
                      text=["name", "genre", "type", "episodes", "members"])
    dup = info["anime_ids"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"{src.label(member)}: anime id {info['anime_ids'].iloc[i]} listed twice "
                        f"(second time at line {i + 2})")
    kind = info["type"].fillna("").astype(str).str.strip()
    return pd.DataFrame({
        "item_id": info["anime_ids"].astype(str).to_numpy(),
        "title": [html.unescape(t) for t in info["name"].fillna("").astype(str).tolist()],
        "genres": [tuple(g.strip() for g in v.split(",") if g.strip())
                   for v in info["genre"].fillna("").astype(str).tolist()],
        "domain": kind.map(DOMAIN_OF_TYPE).fillna("other").to_numpy(),
        "type": kind.replace("", pd.NA).to_numpy(dtype=object),
        "episodes": pd.array(pd.to_numeric(info["episodes"], errors="coerce"), dtype="Int64"),
        "members": pd.array(pd.to_numeric(info["members"], errors="coerce"), dtype="Int64"),
    })
