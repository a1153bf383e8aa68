"""The store as model input: the catalogue frame and the ``Interactions`` snapshot training learns from.

A snapshot holds every user's positive history (rating / watched events, latest rating per
(user, item), items later disliked or marked not-interested removed — the same rules as
``repo.user_state``) over the full catalogue, so items nobody rated are kept.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from cinesync.data.dataset import Interactions, ItemCatalog
from cinesync.data.ids import IdIndex
from cinesync.store.schema import Event, Item, User

log = logging.getLogger(__name__)

POSITIVE_KINDS = ("rating", "watched")
NEGATIVE_KINDS = ("dislike", "not_interested")
CATALOG_FIELDS = ("item_id", "title", "year", "genres", "domain", "overview", "runtime", "tags")


def _frame(s: Session, stmt: Any, columns: list[str]) -> pd.DataFrame:
    """Run ``stmt`` into a DataFrame column by column (much faster than from Row objects)."""
    rows = s.execute(stmt).all()
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    return pd.DataFrame({c: list(v) for c, v in zip(columns, cols, strict=True)})


def catalog_frame(s: Session) -> pd.DataFrame:
    """One row per item in insertion order: item_id, title, year (Int64), genres (tuple), domain,
    overview, runtime (float minutes, NaN if unknown), tags (tuple)."""
    cols = [getattr(Item, c) for c in CATALOG_FIELDS]
    df = _frame(s, select(*cols).order_by(Item.id), list(CATALOG_FIELDS))
    df["item_id"] = df["item_id"].astype(object)
    df["year"] = pd.array(pd.to_numeric(df["year"], errors="coerce"), dtype="Int64")
    df["runtime"] = pd.to_numeric(df["runtime"], errors="coerce").astype(np.float64)
    df["genres"] = [tuple(g or ()) for g in df["genres"]]
    df["tags"] = [tuple(t or ()) for t in df["tags"]]
    return df


def positive_pairs(s: Session) -> pd.DataFrame:
    """Current positive (user_pk, item_pk) pairs with columns ts (latest positive event), id (its
    event id) and value (the latest rating, NaN if only watched) — one row per pair."""
    stmt = (select(Event.user_pk, Event.item_pk, Event.kind, Event.value, Event.ts, Event.id)
            .where(Event.kind.in_(POSITIVE_KINDS + NEGATIVE_KINDS)))
    ev = _frame(s, stmt, ["user_pk", "item_pk", "kind", "value", "ts", "id"])
    if ev.empty:
        return pd.DataFrame({"user_pk": np.zeros(0, np.int64), "item_pk": np.zeros(0, np.int64),
                             "ts": np.zeros(0), "id": np.zeros(0, np.int64), "value": np.zeros(0)})
    ev["value"] = pd.to_numeric(ev["value"], errors="coerce").astype(np.float64)
    ev = ev.sort_values(["user_pk", "item_pk", "ts", "id"], kind="stable", ignore_index=True)
    neg = ev["kind"].isin(NEGATIVE_KINDS)
    key = [ev["user_pk"], ev["item_pk"]]
    seg = neg.astype(np.int64).groupby(key).cumsum()
    last_seg = seg.groupby(key).transform("max")
    kept = ev[(seg == last_seg).to_numpy() & ~neg.to_numpy()]  # positives after the pair's last negative
    return kept.groupby(["user_pk", "item_pk"], sort=False, as_index=False).agg(
        ts=("ts", "last"), id=("id", "last"), value=("value", "last"))  # last() skips NaN: latest rating


def interactions_snapshot(s: Session, items: IdIndex | None = None, name: str = "store") -> Interactions:
    """Every user's current positive history as ``Interactions`` (rows in (user, time) order).

    items: align to this item index (an artifact's): same order, store items outside it are
    left out, items missing from the store get default catalogue rows. None = the whole store
    catalogue in insertion order. Users: those with at least one positive, by creation order.
    Ratings: None when no event has a value; otherwise missing values (watched without a
    rating) are filled with the mean rating. Timestamps: whole epoch seconds.
    """
    t0 = time.perf_counter()
    cat = catalog_frame(s)
    item_pk = np.asarray([r for (r,) in s.execute(select(Item.id).order_by(Item.id))], np.int64)
    pairs = positive_pairs(s)
    if items is None:
        items = IdIndex(cat["item_id"].astype(str), kind="item")
        frame = cat.drop(columns=["item_id"])
        pos_of_pk = pd.Series(np.arange(len(item_pk)), index=item_pk)
    else:
        frame = cat.set_index("item_id").reindex(pd.Index(items.ids, dtype=object))
        frame["title"] = frame["title"].where(frame["title"].notna(), pd.Series(items.ids, index=frame.index))
        frame = frame.reset_index(drop=True)
        pos_of_pk = pd.Series(items.indices(cat["item_id"], missing="minus1"), index=item_pk)
    item_idx = pos_of_pk.reindex(pairs["item_pk"]).to_numpy()
    pairs = pairs[item_idx >= 0].assign(item=item_idx[item_idx >= 0])

    user_rows = s.execute(select(User.id, User.external_id).order_by(User.id)).all()
    user_pk = np.asarray([r[0] for r in user_rows], np.int64)
    active = np.isin(user_pk, pairs["user_pk"].to_numpy())
    users = IdIndex([r[1] for r, a in zip(user_rows, active, strict=True) if a], kind="user")
    user_of_pk = pd.Series(np.arange(len(users)), index=user_pk[active])
    pairs = pairs.assign(user=user_of_pk.reindex(pairs["user_pk"]).to_numpy())
    pairs = pairs.sort_values(["user", "ts", "id"], kind="stable", ignore_index=True)

    value = pairs["value"].to_numpy(np.float64)
    present = np.isfinite(value)
    rating = None
    if present.any():
        rating = np.where(present, value, value[present].mean()).astype(np.float32)
    data = Interactions(users, items, pairs["user"].to_numpy(np.int32), pairs["item"].to_numpy(np.int32),
                        rating, np.floor(pairs["ts"].to_numpy(np.float64)).astype(np.int64),
                        ItemCatalog(items, frame), name=name)
    log.debug("snapshot %r in %.2fs", data, time.perf_counter() - t0)
    return data
