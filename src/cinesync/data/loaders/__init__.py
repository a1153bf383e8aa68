"""Data set loaders: one call, ``load_dataset(name, path)``, for MovieLens, the anime set and generic tables.

The default, "ml-latest-small", ships inside the package and loads offline with no arguments.
"""

from __future__ import annotations

import logging
import os
import time
from importlib import resources
from pathlib import Path
from typing import Any

from cinesync.data.dataset import Interactions
from cinesync.data.loaders import anime, movielens
from cinesync.data.loaders.anime import load_anime
from cinesync.data.loaders.download import locate
from cinesync.data.loaders.files import Source
from cinesync.data.loaders.movielens import load_movielens
from cinesync.data.loaders.rows import BadRows, Skipped, check_policy
from cinesync.data.loaders.tabular import ColumnMap, load_table
from cinesync.errors import ConfigError, DataError

log = logging.getLogger(__name__)

__all__ = ["DATASETS", "ColumnMap", "Skipped", "load_anime", "load_dataset", "load_movielens", "load_table"]

DATASETS: dict[str, str] = {
    "ml-latest-small": "MovieLens latest-small (2018): 100,836 ratings 0.5-5, 610 users, 9,742 movies; bundled",
    "ml-latest": "MovieLens latest full (tens of millions of ratings; changes over time); --download or --path",
    "ml-100k": "MovieLens 100K (1998): 100,000 ratings 1-5, 943 users, 1,682 movies; --download or --path",
    "ml-1m": "MovieLens 1M (2003): 1,000,209 ratings 1-5, 6,040 users, 3,706 rated movies; --download or --path",
    "ml-10m": "MovieLens 10M (2009): 10,000,054 ratings 0.5-5, 69,878 users, 10,677 movies, tags",
    "ml-20m": "MovieLens 20M (2015): 20,000,263 ratings, 138,493 users, 27,278 movies, tags, links",
    "ml-25m": "MovieLens 25M (2019): 25,000,095 ratings, 162,541 users, 62,423 movies, tags, links",
    "ml-32m": "MovieLens 32M (2023): 32,000,204 ratings, 200,948 users, 87,585 movies, tags, links",
    "anime": "MyAnimeList 5k-user sample: 419,943 ratings 1-10 on movies, TV series and OVAs; --path anime.zip",
    "anime-history": "the same anime users' implicit watch history (520,609 events, no ratings); --path anime.zip",
    "csv": "any CSV/TSV of user, item[, rating, timestamp] rows; --path and a column map",
    "parquet": "any Parquet file of user, item[, rating, timestamp] rows; --path and a column map",
}
BUNDLED = "ml-latest-small"
_TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".dat": "csv", ".txt": "csv", ".parquet": "parquet",
                   ".pq": "parquet"}

PathLike = str | os.PathLike[str]


def load_dataset(name: str = BUNDLED, path: PathLike | None = None, *, tmdb_path: PathLike | None = None,
                 columns: ColumnMap | None = None, download: bool = False,
                 cache_dir: PathLike | None = None, bad_rows: BadRows = "error",
                 report: list[Skipped] | None = None) -> Interactions:
    """Load a data set by name (see ``DATASETS``) or by path.

    path: a zip or folder for MovieLens/anime (the release folder or its parent), a file for csv/parquet.
    Without ``path``, MovieLens releases come from the bundled copy (ml-latest-small) or ``cache_dir``
    (default ~/.cache/cinesync), downloaded there first when ``download`` is True. ``name`` may itself
    be a path to a zip / folder / table, whose layout is then detected. ``tmdb_path`` joins TMDB
    overviews to MovieLens movies through links.csv.

    Every row is checked (see ``load_table``): ``bad_rows="error"`` (default) fails on the first bad
    line with its file and line; ``"skip"`` leaves bad rows out and appends a ``Skipped`` per file to
    ``report``. A data set with no interactions at all is an error.
    """
    check_policy(bad_rows)
    rows = {"bad_rows": bad_rows, "report": report}
    t0 = time.perf_counter()
    key = name.lower()
    if columns is not None and key in DATASETS and key not in ("csv", "parquet"):
        raise ConfigError(f"columns (a ColumnMap) only apply to 'csv' and 'parquet' files, not to {name!r}")
    if key not in DATASETS:
        as_path = Path(name).expanduser()
        if not as_path.exists():
            raise ConfigError(f"unknown data set {name!r}: expected one of {sorted(DATASETS)} or a path to an "
                              "existing zip, folder, CSV or Parquet file")
        if path is not None:
            raise ConfigError(f"{name!r} is already a path; do not pass path={path!r} as well")
        data = _load_detected(as_path, tmdb_path, columns, rows)
    elif key in ("csv", "parquet"):
        if path is None:
            raise DataError(f"data set {key!r} needs a path: pass --path FILE (and the column names)")
        data = load_table(path, columns, **rows)
    elif key in ("anime", "anime-history"):
        _no_tmdb(key, tmdb_path)
        src = path if path is not None else _cached_anime(cache_dir)
        data = load_anime(src, "ratings" if key == "anime" else "history", name=key, **rows)
    else:
        if path is not None:
            data = load_movielens(path, key, tmdb_path=tmdb_path, **rows)
        elif key == BUNDLED:
            with resources.as_file(resources.files("cinesync") / "bundled" / f"{BUNDLED}.zip") as bundled:
                data = load_movielens(bundled, key, tmdb_path=tmdb_path, **rows)
        else:
            data = load_movielens(locate(key, cache_dir, download), key, tmdb_path=tmdb_path, **rows)
    if len(data) == 0:
        raise DataError(f"{name}: the data set holds no interactions")
    log.info("load_dataset(%r): %r in %.2fs", name, data, time.perf_counter() - t0)
    return data


def _no_tmdb(name: str, tmdb_path: PathLike | None) -> None:
    if tmdb_path is not None:
        raise ConfigError(f"tmdb_path joins TMDB overviews through MovieLens links.csv; {name!r} has no links")


def _cached_anime(cache_dir: PathLike | None) -> Path:
    from cinesync.data.loaders.download import cache_root

    root = cache_root(cache_dir)
    for candidate in (root / "anime.zip", root / "anime"):
        if candidate.exists():
            return candidate
    raise DataError(f"the anime data set is not in {root}; pass --path to anime.zip or its extracted folder "
                    "(it cannot be downloaded automatically)")


def _load_detected(path: Path, tmdb_path: PathLike | None, columns: ColumnMap | None,
                   rows: dict[str, Any]) -> Interactions:
    """Load whatever ``path`` holds: a table by its suffix, else MovieLens or anime files by their names."""
    if path.is_file() and path.suffix.lower() in _TABLE_SUFFIXES:
        _no_tmdb(path.name, tmdb_path)
        return load_table(path, columns, **rows)
    with Source(path) as src:
        ml = movielens.detect(src)
        an = anime.detect(src) if ml is None else None
        members = src.members
    if ml is not None:
        return load_movielens(path, tmdb_path=tmdb_path, **rows)
    if an is not None:
        _no_tmdb("anime", tmdb_path)
        return load_anime(path, **rows)
    layouts = "; ".join(" + ".join(files) for files in movielens.LAYOUTS.values())
    raise DataError(f"{path}: cannot tell which data set this is. Expected MovieLens files ({layouts}), "
                    f"the anime set ({anime.INFO}), or a .csv/.tsv/.parquet file; found: "
                    f"{', '.join(members[:30]) or 'no files'}")
