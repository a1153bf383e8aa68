"""TMDB 5000 plot overviews and runtimes, joined to MovieLens items through links.csv ``tmdbId``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from cinesync.data.loaders.files import Source, read_table
from cinesync.errors import DataError

log = logging.getLogger(__name__)

_COLUMNS = ["id", "overview", "runtime"]


def read_tmdb(path: str | os.PathLike[str]) -> pd.DataFrame:
    """tmdb_5000_movies.csv (or a zip holding it) -> frame tmdb_id (int64), overview (str), runtime (float
    minutes, NaN when unknown or 0)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p}: no such file (expected tmdb_5000_movies.csv or a zip holding it)")
    if p.is_dir() or p.suffix.lower() == ".zip":
        src = Source(p)
        csvs = [m for m in src.members if m.lower().endswith(".csv")]
        named = [m for m in csvs if "movies" in m.rsplit("/", 1)[-1].lower()]
        if not csvs:
            src.close()
            raise src.missing(["tmdb_5000_movies.csv"], "TMDB overviews")
        member = (named or csvs)[0]
    else:
        src, member = Source(p.parent), p.name
    with src:
        df = read_table(src, member, required=_COLUMNS, numeric={"id": "int64"}, text=["overview"],
                        usecols=True)
    runtime = pd.to_numeric(df["runtime"], errors="coerce")
    return pd.DataFrame({
        "tmdb_id": df["id"].to_numpy(np.int64),
        "overview": df["overview"].fillna("").astype(str).str.strip().to_numpy(dtype=object),
        "runtime": runtime.where(runtime > 0).to_numpy(np.float64),
    }).drop_duplicates("tmdb_id")


def attach_tmdb(catalog: pd.DataFrame, tmdb_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Catalogue frame with ``overview`` and ``runtime`` filled from TMDB where ``tmdb_id`` matches.

    Items without a match keep an empty overview and a missing runtime.
    """
    if "tmdb_id" not in catalog:
        raise DataError("the catalogue has no tmdb_id column (MovieLens links.csv) to join TMDB on")
    tmdb = read_tmdb(tmdb_path).set_index("tmdb_id")
    key = catalog["tmdb_id"].astype("Int64")
    overview = key.map(tmdb["overview"]).fillna("").astype(str)
    runtime = pd.to_numeric(key.map(tmdb["runtime"]), errors="coerce").astype(np.float64)
    out = catalog.assign(overview=overview.to_numpy(dtype=object), runtime=runtime.to_numpy())
    n = int((overview != "").sum())
    log.info("TMDB %s: %s of %s items got an overview (%s with a runtime)", Path(tmdb_path).name, f"{n:,}",
             f"{len(catalog):,}", f"{int(np.isfinite(runtime).sum()):,}")
    return out
