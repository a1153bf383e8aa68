"""MovieLens releases (100K, 1M, 10M, 20M, 25M, 32M, latest, latest-small) from a zip or a folder.

Three file layouts exist: "csv" (ratings.csv + movies.csv [+ tags.csv, links.csv]), "100k" (u.data +
u.item [+ u.genre]) and "dat" (``::``-separated ratings.dat + movies.dat [+ tags.dat]). Rows keep file
order; every item is a "movie"; titles "Toy Story (1995)" become title "Toy Story" + year 1995.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pandas as pd

from cinesync.data.dataset import Interactions
from cinesync.data.loaders.files import Source, read_lines, read_table
from cinesync.data.loaders.rows import BadRows, Skipped, check_ratings
from cinesync.data.loaders.tabular import build_interactions
from cinesync.data.ratings import STARS
from cinesync.errors import DataError

log = logging.getLogger(__name__)

LAYOUTS: dict[str, tuple[str, ...]] = {
    "csv": ("ratings.csv", "movies.csv"),
    "100k": ("u.data", "u.item"),
    "dat": ("ratings.dat", "movies.dat"),
}
RELEASES: dict[str, str] = {
    "ml-latest-small": "csv", "ml-latest": "csv", "ml-20m": "csv", "ml-25m": "csv", "ml-32m": "csv",
    "ml-100k": "100k", "ml-1m": "dat", "ml-10m": "dat",
}
FOLDERS = {"ml-10m": "ml-10M100K"}  # zip folder names that differ from the release name
GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
               "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
               "War", "Western")
_RATINGS = {"userId": "int64", "movieId": "int64", "rating": "float32", "timestamp": "int64"}
RATINGS_FILE = {"csv": "ratings.csv", "100k": "u.data", "dat": "ratings.dat"}
#: every release rates on half or whole stars from 0.5 to 5 (1..5 in ml-100k / ml-1m: on this scale too)
SCALE = STARS
_TITLE = r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\x{2013}]\s*(?:\d{4})?)?\)\s*$"  # RE2 syntax


def detect(src: Source, name: str | None = None) -> tuple[str, str] | None:
    """(layout, root folder) of the MovieLens release in ``src``, or None if there is none.

    When several folders qualify, the one named like ``name`` wins.
    """
    layouts = [RELEASES[name]] if name in RELEASES else list(LAYOUTS)
    for layout in layouts:
        roots = src.roots(LAYOUTS[layout])
        if not roots:
            continue
        wanted = {n.lower() for n in (name, FOLDERS.get(name or "")) if n}
        named = [r for r in roots if r.rstrip("/").rsplit("/", 1)[-1].lower() in wanted]
        if len(roots) > 1 and not named and roots[0].count("/") == roots[1].count("/"):
            raise DataError(f"{src.path}: several MovieLens folders ({', '.join(roots)}); pass one of them as path")
        return layout, (named or roots)[0]
    return None


def release_name(src: Source, root: str) -> str:
    """Release name from the folder (or archive) name: "ml-10M100K" -> "ml-10m"."""
    base = root.rstrip("/").rsplit("/", 1)[-1] or src.path.name.removesuffix(".zip")
    base = base.lower()
    inverse = {v.lower(): k for k, v in FOLDERS.items()}
    return inverse.get(base, base)


def load_movielens(path: str | os.PathLike[str], name: str | None = None, *,
                   tmdb_path: str | os.PathLike[str] | None = None, bad_rows: BadRows = "error",
                   report: list[Skipped] | None = None) -> Interactions:
    """Load a MovieLens release from a zip archive or a folder (the release folder or its parent).

    ``name`` (e.g. "ml-1m") fixes the expected layout; None detects it. ``tmdb_path`` joins TMDB
    overviews + runtimes through links.csv (csv layout only). Ratings must lie on ``SCALE``; a row
    that does not fails the load (``bad_rows="error"``) or is left out and reported (``"skip"``).
    """
    t0 = time.perf_counter()
    with Source(path) as src:
        found = detect(src, name)
        if found is None:
            if name in RELEASES:
                raise src.missing(LAYOUTS[RELEASES[name]], name)
            want = " or ".join(" + ".join(f) for f in LAYOUTS.values())
            raise DataError(f"{src.path}: no MovieLens files found (expected {want}); found: "
                            f"{', '.join(src.members[:30]) or 'no files'}")
        layout, root = found
        name = name or release_name(src, root)
        reader = {"csv": _read_csv_layout, "100k": _read_100k, "dat": _read_dat}[layout]
        ratings, catalog = reader(src, root)
        ratings = check_ratings(src, root + RATINGS_FILE[layout], ratings, "rating", SCALE, layout == "csv",
                                bad_rows, report)
    if tmdb_path is not None:
        if "tmdb_id" not in catalog:
            raise DataError(f"{name} has no links.csv (tmdbId), so TMDB overviews cannot be joined")
        from cinesync.data.loaders.tmdb import attach_tmdb

        catalog = attach_tmdb(catalog, tmdb_path)
    data = build_interactions(ratings["user"].to_numpy(), ratings["item"].to_numpy(),
                              ratings["rating"].to_numpy(np.float32), ratings["timestamp"].to_numpy(np.int64),
                              catalog, name)
    log.info("loaded %s (%s layout) in %.2fs: %r", name, layout, time.perf_counter() - t0, data)
    return data


def split_titles(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """"Heat (1995) " -> ("Heat", 1995); a range "(2006-2007)" gives its first year; titles without a
    year keep their (stripped) text and get <NA>. Vectorised with pyarrow's RE2 (ml-32m: 87k titles)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(titles.fillna("").astype(str).tolist(), type=pa.string())
    parts = pc.extract_regex(text, _TITLE)
    matched = np.asarray(parts.is_valid())
    stripped = pd.Series(pc.utf8_trim_whitespace(text).to_pylist(), dtype=object)
    title = pd.Series(pc.utf8_trim_whitespace(parts.field("title")).to_pylist(), dtype=object)
    year = pd.to_numeric(pd.Series(parts.field("year").to_pylist(), dtype=object).where(matched), errors="coerce")
    return title.where(matched, stripped), pd.array(year, dtype="Int64")


def _genres(values: pd.Series, sep: str = "|") -> list[tuple[str, ...]]:
    """Pipe-separated genres as tuples; "(no genres listed)" -> (). Parsed once per distinct string."""
    codes, uniques = pd.factorize(values.fillna("").astype(str), sort=False)
    parsed = []
    for v in np.asarray(uniques, dtype=object).tolist():
        gs = tuple(g.strip() for g in v.split(sep) if g.strip())
        parsed.append(() if gs == ("(no genres listed)",) else gs)
    return [parsed[c] for c in codes.tolist()]


def _catalog(ids: pd.Series, titles: pd.Series, genres: list[tuple[str, ...]]) -> pd.DataFrame:
    title, year = split_titles(titles)
    return pd.DataFrame({"item_id": ids.astype(str).to_numpy(), "title": title.to_numpy(), "year": year,
                         "genres": genres, "domain": "movie"})


def _tags(catalog: pd.DataFrame, movie: pd.Series, tag: pd.Series) -> pd.DataFrame:
    """Distinct tags per movie (first-seen order) into catalogue column ``tags``."""
    t = pd.DataFrame({"item_id": movie.astype(str).to_numpy(), "tag": tag.fillna("").astype(str).str.strip()})
    t = t[(t["tag"] != "").to_numpy()].drop_duplicates(["item_id", "tag"])
    codes, ids = pd.factorize(t["item_id"], sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(ids)))[:-1]
    groups = np.split(t["tag"].to_numpy(dtype=object)[order], bounds)
    per_item = dict(zip(np.asarray(ids, dtype=object).tolist(), map(tuple, groups), strict=True))
    return catalog.assign(tags=[per_item.get(i, ()) for i in catalog["item_id"].tolist()])


def _read_csv_layout(src: Source, root: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    r = read_table(src, root + "ratings.csv", required=list(_RATINGS), numeric=_RATINGS)
    ratings = r.rename(columns={"userId": "user", "movieId": "item"})
    m = read_table(src, root + "movies.csv", required=["movieId", "title", "genres"],
                   numeric={"movieId": "int64"}, text=["title", "genres"])
    catalog = _catalog(m["movieId"], m["title"], _genres(m["genres"]))
    if member := src.find(root, "tags.csv"):
        t = read_table(src, member, required=["movieId", "tag"], numeric={"movieId": "int64"}, text=["tag"],
                       usecols=True)
        catalog = _tags(catalog, t["movieId"], t["tag"])
    if member := src.find(root, "links.csv"):
        li = read_table(src, member, required=["movieId", "imdbId", "tmdbId"], numeric={"movieId": "int64"},
                        text=["imdbId", "tmdbId"])
        li = li.drop_duplicates("movieId").set_index(li["movieId"].astype(str).to_numpy())
        catalog["imdb_id"] = catalog["item_id"].map(li["imdbId"]).astype(object)
        tmdb = pd.to_numeric(catalog["item_id"].map(li["tmdbId"]), errors="coerce")
        catalog["tmdb_id"] = pd.array(tmdb, dtype="Int64")
    return ratings, catalog


def _split_lines(src: Source, member: str, sep: str, n_fields: int, *, at_least: bool = False) -> list[list[str]]:
    """Python-split a small metadata file; every line must have ``n_fields`` fields (or more)."""
    rows = []
    for no, line in enumerate(read_lines(src, member), start=1):
        if not line.strip():
            continue
        parts = line.split(sep)
        if len(parts) != n_fields and not (at_least and len(parts) > n_fields):
            raise DataError(f"{src.label(member)}: line {no} has {len(parts)} {sep!r}-separated fields, "
                            f"expected {n_fields}: {line[:80]!r}")
        if not parts[0].strip().isdigit():
            what = "repeats a header" if no > 1 else "is a header or has a non-numeric id"
            raise DataError(f"{src.label(member)}: line {no} {what}: id {parts[0]!r} is not an integer")
        rows.append(parts)
    return rows


def _read_100k(src: Source, root: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"}
    ratings = read_table(src, root + "u.data", sep="\t", required=list(cols), numeric=cols, header=False)
    genre_names = list(GENRES_100K)
    if member := src.find(root, "u.genre"):
        pairs = [line.rsplit("|", 1) for line in read_lines(src, member) if line.strip()]
        if any(len(p) != 2 or not p[1].strip().isdigit() for p in pairs):
            raise DataError(f"{src.label(member)}: expected lines 'genre|index', e.g. 'Action|1'")
        genre_names = [g for g, _ in sorted(((p[0], int(p[1])) for p in pairs), key=lambda x: x[1])]
    n = 5 + len(genre_names)
    rows = _split_lines(src, root + "u.item", "|", n)
    flags = np.array([[f == "1" for f in r[5:]] for r in rows], dtype=bool).reshape(len(rows), len(genre_names))
    genres = [tuple(g for g, on in zip(genre_names, f, strict=True) if on and g != "unknown") for f in flags]
    ids = pd.Series([r[0] for r in rows])
    catalog = _catalog(ids, pd.Series([r[1] for r in rows]), genres)
    released = pd.Series(pd.array(pd.to_numeric(pd.Series([r[2][-4:] for r in rows]), errors="coerce"),
                                  dtype="Int64"))
    catalog["year"] = catalog["year"].where(catalog["year"].notna(), released)
    log.info("read %s: %s movies", src.label(root + "u.item"), f"{len(rows):,}")
    return ratings, catalog


def _read_dat(src: Source, root: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"}
    ratings = read_table(src, root + "ratings.dat", sep="::", required=list(cols), numeric=cols, header=False)
    rows = _split_lines(src, root + "movies.dat", "::", 3)
    catalog = _catalog(pd.Series([r[0] for r in rows]), pd.Series([r[1] for r in rows]),
                       _genres(pd.Series([r[2] for r in rows])))
    log.info("read %s: %s movies", src.label(root + "movies.dat"), f"{len(rows):,}")
    if member := src.find(root, "tags.dat"):
        tags = _split_lines(src, member, "::", 4, at_least=True)
        catalog = _tags(catalog, pd.Series([t[1] for t in tags]), pd.Series(["::".join(t[2:-1]) for t in tags]))
        log.info("read %s: %s tags", src.label(member), f"{len(tags):,}")
    return ratings, catalog

