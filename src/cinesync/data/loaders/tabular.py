"""Generic CSV/TSV/Parquet interaction files (``ColumnMap``) and the fast table -> Interactions builder."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from cinesync.data.dataset import Interactions, ItemCatalog
from cinesync.data.ids import IdIndex
from cinesync.data.loaders.files import Source, decode_text, guess_separator, read_table
from cinesync.data.loaders.rows import BadRows, RowCheck, Skipped, check_policy, control_rows, line_mapper
from cinesync.data.ratings import STARS, parse_scale
from cinesync.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class ColumnMap(BaseModel):
    """Which columns of a generic interactions file (and optional item file) mean what.

    ``sep`` None = detected from the header line (tab, comma, ';' or '|'). Timestamps may be integer
    seconds or date strings (ISO 8601), converted to int seconds. Ratings must lie on
    ``rating_scale`` ("LOW:HIGH[:STEP]", default 0.5:5:0.5). Item metadata (``items_path``) is joined
    on ``item_id`` (default: the same name as ``item``); ``genres`` are split on ``genre_sep``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = "user"
    item: str = "item"
    rating: str | None = None
    timestamp: str | None = None
    rating_scale: str | None = None
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
        described = np.isin(np.asarray(items.ids, dtype=object), cat_ids.to_numpy(dtype=object))
        cat = ItemCatalog(items, frame.reset_index(drop=True), described=described)
    return Interactions(users, items, u_codes.astype(np.int32), i_codes.astype(np.int32), rating, timestamp,
                        cat, name=name)


def _as_str(values: object) -> list[str]:
    return [str(x) for x in np.asarray(values, dtype=object)]


def shown(value: object) -> str:
    """A cell as a message shows it: text quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else f"{float(value):g}"  # type: ignore[arg-type]


def to_seconds(col: pd.Series, check: RowCheck | None = None, label: str = "", line_offset: int = 2) -> np.ndarray:
    """Timestamps as int64 seconds: integers (or integer strings) kept, datetimes / ISO 8601 strings converted
    (UTC). A value that is neither is a bad row of ``check`` (0 in the result); without ``check`` it raises."""
    if pd.api.types.is_integer_dtype(col):
        return col.to_numpy(np.int64)
    if pd.api.types.is_datetime64_any_dtype(col):
        dt = col if getattr(col.dt, "tz", None) is not None else col.dt.tz_localize("UTC")
        return dt.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[s]").astype(np.int64).to_numpy()
    num = pd.to_numeric(col, errors="coerce")
    out = np.zeros(len(col), np.int64)
    is_num = num.notna().to_numpy() & np.isfinite(num.to_numpy(np.float64, na_value=np.nan))
    out[is_num] = np.floor(num.to_numpy(np.float64, na_value=np.nan)[is_num]).astype(np.int64)
    rest = ~is_num & col.notna().to_numpy()
    if rest.any():
        dt = pd.to_datetime(col[rest].astype(str), errors="coerce", utc=True, format="ISO8601")
        ok = dt.notna().to_numpy()
        seconds = dt[ok].dt.tz_localize(None).astype("datetime64[s]").astype(np.int64).to_numpy()
        idx = np.flatnonzero(rest)
        out[idx[ok]] = seconds
        rest[idx[ok]] = False
    bad = rest | col.isna().to_numpy()
    if bad.any():
        def why(i: int) -> str:
            v = col.iloc[i]
            return ("missing timestamp" if pd.isna(v) else
                    f"timestamp {v!r} is neither integer seconds nor an ISO 8601 date")
        if check is None:
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{label}: line {i + line_offset}: {why(i)}")
        check.add(bad, why)
    return out


def _detect_sep(src: Source, member: str, sep: str | None) -> str:
    """``sep`` if given, else the separator seen in line 1 (tab, comma, ';', '|'), else by extension."""
    if sep is not None:
        return sep
    line = decode_text(src.head(member, 8192), src.label(member)).split("\n", 1)[0]
    seen = guess_separator(line)
    if seen is not None and seen != "::":
        return seen
    return "\t" if Path(member).suffix.lower() in (".tsv", ".dat", ".tab") else ","


def _read(path: Path, sep: str | None, required: list[str], optional: list[str], text: list[str]
          ) -> tuple[pd.DataFrame, str, Callable[[np.ndarray], np.ndarray], str]:
    """Read a CSV/TSV or Parquet file; returns (frame, label, row -> line/row number, "line" | "row").

    Columns in ``text`` are read as strings from a CSV (their values are checked by the caller)."""
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
        return df, str(path), lambda rows: np.asarray(rows, np.int64) + 1, "row"
    with Source(path.parent) as src:
        df = read_table(src, path.name, sep=_detect_sep(src, path.name, sep), required=required, optional=optional,
                        text=[c for c in text if c], usecols=True)
        label = src.label(path.name)
    return df, label, line_mapper(path.read_bytes), "line"


def load_table(path: str | Path, columns: ColumnMap | None = None, name: str | None = None,
               bad_rows: BadRows = "error", report: list[Skipped] | None = None) -> Interactions:
    """Interactions from a generic CSV/TSV/Parquet file described by ``columns``.

    Without ``columns`` the file needs ``user`` and ``item`` columns; ``rating`` and ``timestamp``
    are used when present (also when ``columns`` names other columns but not these two). Ids are
    kept exactly as written (read as strings). Every row is checked (ids present and free of control
    characters, the rating a number on the scale, the timestamp readable): ``bad_rows="error"``
    fails on the first bad line, ``"skip"`` leaves bad rows out and appends them to ``report``.
    """
    path = Path(path).expanduser()
    t0 = time.perf_counter()
    cm = columns or ColumnMap()
    bad_rows = check_policy(bad_rows)
    required = [cm.user, cm.item] + [c for c in (cm.rating, cm.timestamp) if c]
    # a column not named in ``columns`` is still used when the file has it under its usual name
    optional = [c for c, given in (("rating", cm.rating), ("timestamp", cm.timestamp)) if given is None
                and c not in required]
    if len(set(required)) != len(required):
        raise ConfigError(f"ColumnMap names a column twice: {required}")
    scale = parse_scale(cm.rating_scale) if cm.rating_scale else STARS
    df, label, lines, unit = _read(path, cm.sep, required, optional, required + optional)
    if len(df) == 0:
        raise DataError(f"{label}: no data rows (only a header): nothing to load")
    rating_col = cm.rating or ("rating" if "rating" in optional and "rating" in df else None)
    ts_col = cm.timestamp or ("timestamp" if "timestamp" in optional and "timestamp" in df else None)
    check = RowCheck(len(df), label, lines, unit)
    for c, what in ((cm.user, "user"), (cm.item, "item")):
        col = df[c]
        check.add(col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy(),
                  lambda i, what=what: f"missing {what} id")
        check.add(control_rows(col), lambda i, col=col, what=what:
                  f"{what} id {str(col.iloc[i])[:40]!r} holds a control character (e.g. a NUL byte)")
    rating = None
    if rating_col is not None:
        raw = df[rating_col]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        check.add(raw.isna().to_numpy(), lambda i: "missing rating")
        check.add(np.isnan(values), lambda i: f"rating {shown(raw.iloc[i])} is not a number")
        off_scale = scale.invalid(values) & ~np.isnan(values)
        check.add(off_scale, lambda i: f"rating {shown(raw.iloc[i])} is not on the rating scale {scale}")
        rating = values.astype(np.float32)
    ts = None if ts_col is None else to_seconds(df[ts_col], check)
    hint = (f" (or declare its scale with --rating-scale LOW:HIGH[:STEP]; now {scale})"
            if rating_col and (off_scale & check.bad).any() else "")
    keep, skipped = check.resolve(bad_rows, hint)
    if skipped is not None:
        if report is not None:
            report.append(skipped)
        if not keep.any():
            raise DataError(f"{label}: every row is bad ({skipped}); nothing to load")
        df = df[keep].reset_index(drop=True)
        rating = None if rating is None else rating[keep]
        ts = None if ts is None else ts[keep]
    catalog = _item_table(cm) if cm.items_path else None
    data = build_interactions(df[cm.user].to_numpy(), df[cm.item].to_numpy(), rating, ts, catalog, name or path.stem)
    log.info("loaded %s in %.2fs: %r", label, time.perf_counter() - t0, data)
    return data


def _item_table(cm: ColumnMap) -> pd.DataFrame:
    """The optional item metadata file as a catalogue frame (item_id, title, genres, year, domain)."""
    path = Path(str(cm.items_path)).expanduser()
    key = cm.item_id or cm.item
    wanted = {"title": cm.title, "genres": cm.genres, "year": cm.year, "domain": cm.domain}
    required = [key] + [c for c in wanted.values() if c]
    df, label, _, _ = _read(path, cm.items_sep, required, [], [c for c in required if c != cm.year])
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
