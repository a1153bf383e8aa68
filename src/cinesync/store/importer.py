"""Bulk, idempotent imports into the store: a data set's users/items/ratings, and streaming availability.

Events get ``import_key = f"{source}:{user}:{item}:{ts}"`` and are inserted in chunks with
ON CONFLICT DO NOTHING (SQLite and PostgreSQL alike), so importing the same data twice adds
nothing. Items: new ones are inserted; an existing one is updated only in the columns its source
actually provides (``ItemCatalog.provided``) and only for the items the source describes
(``ItemCatalog.described``), and a missing value (no title, year, genres, overview, runtime) never
overwrites a present one: a ratings-only file leaves the catalogue as it was.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tqdm.auto import tqdm

from cinesync.data.dataset import CATALOG_COLUMNS, Interactions
from cinesync.data.loaders.rows import CONTROL
from cinesync.errors import DataError
from cinesync.store.schema import ITEM_ID_LEN, USER_ID_LEN, Availability, Event, Item, User, utcnow

log = logging.getLogger(__name__)
CHUNK = 20_000
AVAILABILITY_FIELDS = ("item_id", "provider", "region")
EVENT_COLUMNS = ("user_pk", "item_pk", "kind", "value", "ts", "source", "import_key")
_TMP = "cinesync_import_events"


def _insert(s: Session, table: Any) -> Any:
    """A dialect-specific INSERT (both dialects support ON CONFLICT)."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _count(s: Session, table: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _json_safe(v: Any) -> Any:
    """Plain JSON value for a catalogue cell (None for NA / NaN)."""
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    return v if isinstance(v, (str, int, float, bool)) else str(v)


#: columns an import may update; "extra" (the catalogue's own columns) is merged key by key
UPDATABLE = ("title", "year", "genres", "domain", "tags", "overview", "runtime")


def _item_rows(data: Interactions) -> list[dict[str, Any]]:
    df = data.catalog.frame
    extra_cols = [c for c in df.columns if c not in (*CATALOG_COLUMNS, "item_id", "runtime")]
    runtime = (pd.to_numeric(df["runtime"], errors="coerce") if "runtime" in df
               else pd.Series(np.nan, index=df.index))
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        extra = {c: _json_safe(rec[c]) for c in extra_cols}
        rows.append({
            "item_id": str(rec["item_id"]), "title": str(rec["title"])[:500], "year": _json_safe(rec["year"]),
            "genres": list(rec["genres"]), "domain": rec["domain"], "overview": rec["overview"],
            "runtime": _json_safe(float(runtime.iat[i])), "tags": list(rec["tags"]),
            "extra": {k: v for k, v in extra.items() if v is not None},
        })
    return rows


def _missing(col: str, value: Any, item_id: str) -> bool:
    """A value that says nothing: it never overwrites a present one (a title equal to the bare id is the
    catalogue's stand-in for a source without titles)."""
    if value is None or value == "" or value == [] or value == {}:
        return True
    return col == "title" and value == item_id


def _merge(row: dict[str, Any], current: dict[str, Any], provided: frozenset[str]) -> dict[str, Any]:
    """The columns of ``current`` (the stored item) that ``row`` (the source) changes."""
    out: dict[str, Any] = {}
    for col in UPDATABLE:
        if col in provided and not _missing(col, row[col], row["item_id"]) and row[col] != current[col]:
            out[col] = row[col]
    if row["extra"]:
        merged = {**(current["extra"] or {}), **row["extra"]}
        if merged != current["extra"]:
            out["extra"] = merged
    return out


def _upsert_items(s: Session, data: Interactions) -> dict[str, int]:
    """Insert new items; update the described ones in their provided columns only. {"items_updated": n}."""
    cat = data.catalog
    provided = cat.provided
    rows = _item_rows(data)
    stmt = _insert(s, Item.__table__).on_conflict_do_nothing(index_elements=["item_id"])
    for start in range(0, len(rows), CHUNK):
        s.execute(stmt, rows[start:start + CHUNK])
    cols = [Item.__table__.c[c] for c in ("id", "item_id", *UPDATABLE, "extra")]
    current = {r.item_id: r._asdict() for r in s.execute(select(*cols))}
    updates = []
    for row, described in zip(rows, cat.described.tolist(), strict=True):
        if not described:
            continue
        change = _merge(row, current[row["item_id"]], provided)
        if change:
            updates.append((current[row["item_id"]]["id"], change))
    table = Item.__table__
    for pk, change in updates:
        s.execute(table.update().where(table.c.id == pk).values(**change))
    return {"items_updated": len(updates)}


def _insert_users(s: Session, data: Interactions) -> None:
    now = utcnow()
    rows = [{"external_id": u, "display_name": None, "token_hash": None, "is_admin": False, "region": None,
             "providers": [], "created_at": now} for u in data.users.ids.tolist()]
    stmt = _insert(s, User.__table__).on_conflict_do_nothing(index_elements=["external_id"])
    for start in range(0, len(rows), CHUNK):
        s.execute(stmt, rows[start:start + CHUNK])


def _pk_lookup(s: Session, ext_col: Any, pk_col: Any, ids: np.ndarray) -> np.ndarray:
    """Row ids (int64) of external ids ``ids`` (all must exist)."""
    known = dict(s.execute(select(ext_col, pk_col)).all())
    return np.asarray([known[str(x)] for x in ids.tolist()], np.int64)


def _insert_events(s: Session, rows: list[tuple]) -> None:
    """INSERT rows (EVENT_COLUMNS order) skipping known import keys; PostgreSQL goes through COPY
    into a temporary table (~10x faster than executemany), SQLite through executemany."""
    if s.get_bind().dialect.name != "postgresql":
        stmt = _insert(s, Event.__table__).on_conflict_do_nothing(index_elements=["import_key"])
        s.execute(stmt, [dict(zip(EVENT_COLUMNS, r, strict=True)) for r in rows])
        return
    cols = ", ".join(EVENT_COLUMNS)
    raw = s.connection().connection.driver_connection  # same connection and transaction as the session
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_TMP} (user_pk integer, item_pk integer, kind varchar(16), "
                    f"value double precision, ts double precision, source varchar(8), import_key varchar(255)) "
                    f"ON COMMIT DROP")
        cur.execute(f"TRUNCATE {_TMP}")
        with cur.copy(f"COPY {_TMP} ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        cur.execute(f"INSERT INTO events ({cols}) SELECT {cols} FROM {_TMP} ON CONFLICT (import_key) DO NOTHING")


def import_interactions(s: Session, data: Interactions, source: str, progress: bool = True) -> dict[str, Any]:
    """Import ``data`` (users, catalogue, ratings or implicit "watched" rows) idempotently.

    Returns counts: users_new/users_existing, items_new/items_existing, events_new/events_existing
    (existing includes rows repeated inside ``data``) and seconds. Ratings keep the data's own scale.
    """
    if not source or ":" in source or len(source) > 40:
        raise DataError(f"import source must be a non-empty name of at most 40 characters without ':', "
                        f"got {source!r}")
    for index, limit in ((data.users, USER_ID_LEN), (data.items, ITEM_ID_LEN)):
        too_long = [x for x in index.ids.tolist() if len(x) > limit]
        if too_long:
            raise DataError(f"{data.name}: {index.kind} id {too_long[0][:80]!r} is longer than {limit} characters")
        odd = [x for x in index.ids.tolist() if CONTROL.search(x)]
        if odd:
            raise DataError(f"{data.name}: {index.kind} id {odd[0][:80]!r} holds a control character (e.g. a NUL "
                            "byte); nothing was imported")
    if data.rating is not None and not np.isfinite(data.rating).all():
        bad = float(data.rating[~np.isfinite(data.rating)][0])
        raise DataError(f"{data.name}: rating {bad} is not a finite number; nothing was imported")
    t0 = time.perf_counter()
    before = {name: _count(s, t) for name, t in (("users", User), ("items", Item), ("events", Event))}
    _insert_users(s, data)
    item_counts = _upsert_items(s, data)
    user_pk = _pk_lookup(s, User.external_id, User.id, data.users.ids)[data.user]
    item_pk = _pk_lookup(s, Item.item_id, Item.id, data.items.ids)[data.item]
    ts = np.zeros(len(data), np.int64) if data.timestamp is None else data.timestamp.astype(np.int64)
    kind = "watched" if data.rating is None else "rating"
    values: list[float | None] = ([None] * len(data) if data.rating is None
                                  else [None if math.isnan(v) else v for v in data.rating.astype(float).tolist()])
    u_ext, i_ext = data.users.ids[data.user].tolist(), data.items.ids[data.item].tolist()
    up, ip, tl = user_pk.tolist(), item_pk.tolist(), ts.tolist()
    for start in tqdm(range(0, len(data), CHUNK), desc=f"import {source}", unit="chunk", disable=not progress,
                      leave=False):
        rows = [(up[r], ip[r], kind, values[r], float(tl[r]), "import", f"{source}:{u_ext[r]}:{i_ext[r]}:{tl[r]}")
                for r in range(start, min(start + CHUNK, len(data)))]
        _insert_events(s, rows)
    after = {name: _count(s, t) for name, t in (("users", User), ("items", Item), ("events", Event))}
    n_new = {k: after[k] - before[k] for k in after}
    return {
        "source": source,
        "users_new": n_new["users"], "users_existing": data.n_users - n_new["users"],
        "items_new": n_new["items"], "items_existing": data.n_items - n_new["items"],
        "items_updated": item_counts["items_updated"],
        "events_new": n_new["events"], "events_existing": len(data) - n_new["events"],
        "seconds": round(time.perf_counter() - t0, 3),
    }


def import_dataset(session_factory: sessionmaker[Session], data: Interactions, source: str,
                   progress: bool = True) -> dict[str, Any]:
    """Import ``data`` in one transaction (all or nothing) and log the counts."""
    log.info("importing %r as source %r", data, source)
    with session_factory.begin() as s:
        counts = import_interactions(s, data, source, progress=progress)
    log.info("imported %s in %.1fs: users %s new / %s existing, items %s new / %s existing, "
             "events %s new / %s existing", source, counts["seconds"], f"{counts['users_new']:,}",
             f"{counts['users_existing']:,}", f"{counts['items_new']:,}", f"{counts['items_existing']:,}",
             f"{counts['events_new']:,}", f"{counts['events_existing']:,}")
    return counts


# ---- streaming availability --------------------------------------------------------------
def _read_availability(path: Path) -> list[tuple[str, str, str, str]]:
    """(where, item_id, provider, region) per row; ``where`` = "line N" / "entry N" for errors."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: line {e.lineno}, column {e.colno}: invalid JSON ({e.msg})") from None
        if not isinstance(doc, list):
            raise DataError(f"{path}: expected a JSON list of objects with keys {', '.join(AVAILABILITY_FIELDS)}, "
                            f"got {type(doc).__name__}")
        raw = []
        for n, entry in enumerate(doc, start=1):
            if not isinstance(entry, dict):
                raise DataError(f"{path}: entry {n}: expected an object, got {type(entry).__name__}")
            missing = [k for k in AVAILABILITY_FIELDS if k not in entry]
            if missing:
                raise DataError(f"{path}: entry {n}: missing key(s) {', '.join(missing)}")
            raw.append((f"entry {n}", *(entry[k] for k in AVAILABILITY_FIELDS)))
    else:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            missing = [k for k in AVAILABILITY_FIELDS if k not in header]
            if missing:
                raise DataError(f"{path}: line 1: missing column(s) {', '.join(missing)}; expected a header "
                                f"with {','.join(AVAILABILITY_FIELDS)}, got {','.join(header) or 'nothing'}")
            cols = [header.index(k) for k in AVAILABILITY_FIELDS]
            raw = []
            for fields in reader:
                if not any(f.strip() for f in fields):
                    continue
                if len(fields) != len(header):
                    raise DataError(f"{path}: line {reader.line_num}: {len(fields)} fields, expected "
                                    f"{len(header)} ({','.join(header)})")
                raw.append((f"line {reader.line_num}", *(fields[c] for c in cols)))
    rows = []
    for where, *vals in raw:
        clean = []
        for key, v, limit in zip(AVAILABILITY_FIELDS, vals, (ITEM_ID_LEN, 64, 8), strict=True):
            if isinstance(v, (int, float)) and not isinstance(v, bool) and key == "item_id":
                v = str(v)
            if not isinstance(v, str) or not v.strip():
                raise DataError(f"{path}: {where}: {key!r} must be a non-empty string, got {v!r}")
            if len(v.strip()) > limit:
                raise DataError(f"{path}: {where}: {key!r} longer than {limit} characters: {v[:40]!r}")
            clean.append(v.strip())
        rows.append((where, clean[0], clean[1], clean[2].upper()))
    return rows


def import_availability(s: Session, path: str | Path) -> dict[str, int]:
    """Add (item, provider, region) offers from a CSV (header item_id,provider,region) or a JSON list.

    Malformed files raise DataError naming the file and line (CSV) or entry (JSON) before anything
    is written. Unknown item ids are skipped and counted. Returns rows/new/existing/unknown_items.
    """
    path = Path(path)
    rows = _read_availability(path)
    known = dict(s.execute(select(Item.item_id, Item.id)).all())
    unknown = sorted({r[1] for r in rows if r[1] not in known})
    if unknown:
        log.warning("%s: %d unknown item id(s) skipped, e.g. %s", path, len(unknown), ", ".join(unknown[:5]))
    values = list(dict.fromkeys((known[i], p, r) for _, i, p, r in rows if i in known))
    before = _count(s, Availability)
    stmt = _insert(s, Availability.__table__).on_conflict_do_nothing(index_elements=["item_pk", "provider", "region"])
    for start in range(0, len(values), CHUNK):
        s.execute(stmt, [{"item_pk": i, "provider": p, "region": r} for i, p, r in values[start:start + CHUNK]])
    new = _count(s, Availability) - before
    n_known = sum(1 for r in rows if r[1] in known)
    return {"rows": len(rows), "new": new, "existing": n_known - new,
            "unknown_items": sum(1 for r in rows if r[1] not in known)}
