"""Generic CSV/TSV/Parquet interaction files (``ColumnMap``) and the fast table -> Interactions builder."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from cinesync.data.dataset import Interactions, ItemCatalog
from cinesync.data.ids import IdIndex
from cinesync.data.loaders.files import Source, decode_text, guess_separator, read_table
from cinesync.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class ColumnMap(BaseModel):
    """Which columns of a generic interactions file (and optional item file) mean what.

    ``sep`` None = detected from the header line (tab, comma, ';' or '|'). Timestamps may be integer
    seconds or date strings (ISO 8601), converted to int seconds. Item metadata (``items_path``)
    is joined on ``item_id`` (default: the same name as ``item``); ``genres`` are split on
    ``genre_sep``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = "user"
    item: str = "item"
    rating: str | None = None
    timestamp: str | None = None
    sep: str | None = None
    items_path: str | None = None
    items_sep: str | None = None
    item_id: str | None = None
    title: str | None = None
    genres: str | None = None
    genre_sep: str = "|"
    year: str | None = None
    domain: str | None = None


def build_interactions(user: np.ndarray, item: np.ndarray, rating: np.ndarray | None,
                       timestamp: np.ndarray | None, catalog: pd.DataFrame | None, name: str) -> Interactions:
    """Same result as ``Interactions.from_frame`` (item order: first seen, then catalogue-only items).

    Factorises the raw id columns (ints or strings, shape (n,)) before turning the *distinct* ids into
    strings; ``from_frame`` converts every row to ``str`` first, which takes ~25 s on ml-25m.
    ``catalog`` has one row per item keyed by column ``item_id``.
    """
    u_codes, u_uniq = pd.factorize(np.asarray(user), sort=False)
    i_codes, i_uniq = pd.factorize(np.asarray(item), sort=False)
    users = IdIndex(_as_str(u_uniq), kind="user")
    item_ids = _as_str(i_uniq)
    if catalog is None:
        items = IdIndex(item_ids, kind="item")
        cat = ItemCatalog(items)
    else:
        cat_ids = catalog["item_id"].astype(str)
        seen = set(item_ids)
        extra = [x for x in dict.fromkeys(cat_ids.tolist()) if x not in seen]
        items = IdIndex(item_ids + extra, kind="item")
        frame = catalog.assign(item_id=cat_ids).drop_duplicates("item_id").set_index("item_id")
        frame = frame.reindex(pd.Index(items.ids, dtype=object))
        if "title" in frame.columns:
            frame["title"] = frame["title"].where(frame["title"].notna(), pd.Series(items.ids, index=frame.index))
        cat = ItemCatalog(items, frame.reset_index(drop=True))
    return Interactions(users, items, u_codes.astype(np.int32), i_codes.astype(np.int32), rating, timestamp,
                        cat, name=name)


def _as_str(values: object) -> list[str]:
    return [str(x) for x in np.asarray(values, dtype=object)]


def to_seconds(col: pd.Series, label: str, line_offset: int = 2) -> np.ndarray:
    """Timestamps as int64 seconds: ints kept, datetimes / ISO strings converted (UTC)."""
    if pd.api.types.is_integer_dtype(col):
        return col.to_numpy(np.int64)
    if pd.api.types.is_float_dtype(col):
        nan = np.flatnonzero(col.isna().to_numpy())
        if len(nan):
            raise DataError(f"{label}: missing timestamp at line {int(nan[0]) + line_offset}")
        return np.floor(col.to_numpy()).astype(np.int64)
    if pd.api.types.is_datetime64_any_dtype(col):
        dt = col
    else:
        dt = pd.to_datetime(col, errors="coerce", utc=True, format="ISO8601")
    bad = np.flatnonzero(dt.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raise DataError(f"{label}: timestamp {col.iloc[i]!r} at line {i + line_offset} is neither integer "
                        "seconds nor an ISO 8601 date")
    if getattr(dt.dt, "tz", None) is None:
        dt = dt.dt.tz_localize("UTC")
    return (dt.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[s]").astype(np.int64)).to_numpy()


def _detect_sep(src: Source, member: str, sep: str | None) -> str:
    """``sep`` if given, else the separator seen in line 1 (tab, comma, ';', '|'), else by extension."""
    if sep is not None:
        return sep
    line = decode_text(src.head(member, 8192), src.label(member)).split("\n", 1)[0]
    seen = guess_separator(line)
    if seen is not None and seen != "::":
        return seen
    return "\t" if Path(member).suffix.lower() in (".tsv", ".dat", ".tab") else ","


def _read(path: Path, sep: str | None, required: list[str], optional: list[str], numeric: dict[str, str],
          text: list[str]) -> tuple[pd.DataFrame, str]:
    """Read a CSV/TSV or Parquet file with checks; returns (frame, label)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file" + (" (it is a folder; pass the table file)" if path.is_dir() else ""))
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as e:  # pyarrow raises several types for non-parquet input
            raise DataError(f"{path}: cannot read it as Parquet ({e})") from e
        missing = [c for c in required if c not in names]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; found {names}")
        df = pd.read_parquet(path, columns=required + [c for c in optional if c in names])
        for c in numeric:
            if c in df and not pd.api.types.is_numeric_dtype(df[c]):
                vals = pd.to_numeric(df[c], errors="coerce")
                i = int(np.flatnonzero(vals.isna().to_numpy())[0])
                raise DataError(f"{path}: non-numeric value {df[c].iloc[i]!r} in column {c!r} at row {i + 1}")
            if c in df and df[c].isna().any():
                i = int(np.flatnonzero(df[c].isna().to_numpy())[0])
                raise DataError(f"{path}: missing value in column {c!r} at row {i + 1}")
        return df, str(path)
    with Source(path.parent) as src:
        df = read_table(src, path.name, sep=_detect_sep(src, path.name, sep), required=required, optional=optional,
                        numeric=numeric, text=text, usecols=True)
        return df, src.label(path.name)


def load_table(path: str | Path, columns: ColumnMap | None = None, name: str | None = None) -> Interactions:
    """Interactions from a generic CSV/TSV/Parquet file described by ``columns``.

    Without ``columns`` the file needs ``user`` and ``item`` columns; ``rating`` and ``timestamp``
    are used when present. Ids are kept exactly as written (read as strings).
    """
    path = Path(path).expanduser()
    t0 = time.perf_counter()
    cm = columns or ColumnMap()
    defaults = columns is None
    required = [cm.user, cm.item] + [c for c in (cm.rating, cm.timestamp) if c]
    optional = ["rating", "timestamp"] if defaults else []
    if len(set(required)) != len(required):
        raise ConfigError(f"ColumnMap names a column twice: {required}")
    numeric = {c: "float64" for c in [cm.rating, "rating" if defaults else None] if c}
    df, label = _read(path, cm.sep, required, optional, numeric, [cm.user, cm.item])
    rating_col = cm.rating or ("rating" if defaults and "rating" in df else None)
    ts_col = cm.timestamp or ("timestamp" if defaults and "timestamp" in df else None)
    for c in (cm.user, cm.item):
        if df[c].isna().any():
            i = int(np.flatnonzero(df[c].isna().to_numpy())[0])
            raise DataError(f"{label}: missing {c!r} id at line {i + 2}")
    rating = None if rating_col is None else df[rating_col].to_numpy(np.float32)
    ts = None if ts_col is None else to_seconds(df[ts_col], label)
    catalog = _item_table(cm) if cm.items_path else None
    data = build_interactions(df[cm.user].to_numpy(), df[cm.item].to_numpy(), rating, ts, catalog,
                              name or path.stem)
    log.info("loaded %s in %.2fs: %r", label, time.perf_counter() - t0, data)
    return data


def _item_table(cm: ColumnMap) -> pd.DataFrame:
    """The optional item metadata file as a catalogue frame (item_id, title, genres, year, domain)."""
    path = Path(str(cm.items_path)).expanduser()
    key = cm.item_id or cm.item
    wanted = {"title": cm.title, "genres": cm.genres, "year": cm.year, "domain": cm.domain}
    required = [key] + [c for c in wanted.values() if c]
    df, label = _read(path, cm.items_sep, required, [], {}, [c for c in required if c != cm.year])
    out = pd.DataFrame({"item_id": df[key].astype(str)})
    for std, col in wanted.items():
        if col:
            out[std] = df[col]
    if "genres" in out:
        out["genres"] = [tuple(g.strip() for g in str(v).split(cm.genre_sep) if g.strip()) if isinstance(v, str)
                         else () for v in out["genres"]]
    if "domain" in out:
        out["domain"] = out["domain"].astype(str).str.strip().str.lower()
    log.info("item metadata %s: %s items", label, f"{len(out):,}")
    return out
