"""Immutable interaction data (``Interactions``) and the item catalogue (``ItemCatalog``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cinesync.data.arrays import unique_int
from cinesync.data.history import HistoryBatch
from cinesync.data.ids import IdIndex
from cinesync.errors import DataError

DOMAINS = ("movie", "tv", "other")
CATALOG_COLUMNS = ("title", "year", "genres", "domain", "tags", "overview")


class ItemCatalog:
    """Item metadata aligned to an item ``IdIndex`` (row i describes item index i).

    Standard columns: title (str), year (Int64, may be missing), genres (tuple[str]),
    domain ("movie" | "tv" | "other"), tags (tuple[str]), overview (str). Any extra
    columns (runtime, tmdb_id, ...) are kept as given.

    What the source really said is kept apart from the defaults that fill the gaps: ``provided`` are
    the columns the source had (default: those of ``frame``), ``described`` (n_items,) marks the items
    it described (default: all when ``frame`` is given, none without one). An import updates only
    those, so a ratings-only file never overwrites a title it invented from an id.
    """

    def __init__(self, items: IdIndex, frame: pd.DataFrame | None = None, *,
                 provided: frozenset[str] | None = None, described: np.ndarray | None = None) -> None:
        n = len(items)
        df = pd.DataFrame(index=pd.RangeIndex(n)) if frame is None else frame.reset_index(drop=True).copy()
        if len(df) != n:
            raise DataError(f"catalogue has {len(df)} rows for {n} items")
        if provided is None:
            provided = frozenset() if frame is None else frozenset(str(c) for c in df.columns if c != "item_id")
        self.provided = frozenset(provided)
        if described is None:
            described = np.full(n, frame is not None)
        described = np.asarray(described, bool)
        if described.shape != (n,):
            raise DataError(f"catalogue 'described' mask has shape {described.shape} for {n} items")
        described.flags.writeable = False
        self.described = described
        defaults = {
            "title": lambda: items.ids.astype(str),
            "year": lambda: pd.array([pd.NA] * n, dtype="Int64"),
            "genres": lambda: [()] * n,
            "domain": lambda: ["movie"] * n,
            "tags": lambda: [()] * n,
            "overview": lambda: [""] * n,
        }
        for col, make in defaults.items():
            if col not in df.columns:
                df[col] = make()
        df["title"] = df["title"].fillna("").astype(str)
        df["year"] = pd.array(pd.to_numeric(df["year"], errors="coerce"), dtype="Int64")
        df["genres"] = [tuple(g) if isinstance(g, (list, tuple)) else () for g in df["genres"]]
        df["tags"] = [tuple(t) if isinstance(t, (list, tuple)) else () for t in df["tags"]]
        df["overview"] = df["overview"].fillna("").astype(str)
        df["domain"] = df["domain"].fillna("other").astype(str)
        bad = sorted(set(df["domain"]) - set(DOMAINS))
        if bad:
            raise DataError(f"catalogue domain must be one of {DOMAINS}, got {bad[:5]}")
        df.insert(0, "item_id", items.ids.astype(str))
        self.items = items
        self._df = df

    @property
    def frame(self) -> pd.DataFrame:
        """A copy of the catalogue as a DataFrame (column item_id holds external ids)."""
        return self._df.copy()

    def __len__(self) -> int:
        return len(self._df)

    def column(self, name: str) -> np.ndarray:
        """Values of one column in item-index order (read-only copy)."""
        return self._df[name].to_numpy(copy=True)

    @cached_property
    def domain_codes(self) -> np.ndarray:
        """(n_items,) array of domain strings."""
        return self._df["domain"].to_numpy(dtype=object)

    def domain_mask(self, domain: str) -> np.ndarray:
        """(n_items,) bool mask of items in ``domain`` ("all" = every item)."""
        if domain == "all":
            return np.ones(len(self), bool)
        if domain not in DOMAINS:
            raise DataError(f"domain must be one of {DOMAINS + ('all',)}, got {domain!r}")
        return self.domain_codes == domain

    @cached_property
    def genre_names(self) -> list[str]:
        """Sorted distinct genre names."""
        return sorted({g for gs in self._df["genres"] for g in gs})

    @cached_property
    def genre_matrix(self) -> sp.csr_matrix:
        """(n_items, n_genres) binary CSR, columns in ``genre_names`` order."""
        col = {g: j for j, g in enumerate(self.genre_names)}
        rows, cols = [], []
        for i, gs in enumerate(self._df["genres"]):
            for g in gs:
                rows.append(i)
                cols.append(col[g])
        data = np.ones(len(rows), np.float32)
        return sp.csr_matrix((data, (rows, cols)), shape=(len(self), len(col)))

    def take(self, idx: np.ndarray, items: IdIndex) -> ItemCatalog:
        """Catalogue restricted to rows ``idx`` (re-indexed under ``items``)."""
        df = self._df.iloc[np.asarray(idx)].drop(columns=["item_id"])
        return ItemCatalog(items, df, provided=self.provided, described=self.described[np.asarray(idx)])

    def with_frame(self, frame: pd.DataFrame) -> ItemCatalog:
        """The same items and provenance with another metadata frame (same rows)."""
        return ItemCatalog(self.items, frame, provided=self.provided, described=self.described)


def _ro(a: np.ndarray | None) -> np.ndarray | None:
    if a is not None:
        a = np.ascontiguousarray(a)
        a.flags.writeable = False
    return a


class Interactions:
    """An immutable set of (user, item, rating?, timestamp?) events.

    Rows keep their original (file) order; ``users``/``items`` are the id indexes that
    map external ids to the contiguous indices stored in ``user``/``item``. Subsets
    (splits) share their parent's indexes, so indices agree across train/valid/test.
    """

    def __init__(
        self,
        users: IdIndex,
        items: IdIndex,
        user: np.ndarray,
        item: np.ndarray,
        rating: np.ndarray | None = None,
        timestamp: np.ndarray | None = None,
        catalog: ItemCatalog | None = None,
        name: str = "data",
    ) -> None:
        user = np.asarray(user, np.int32)
        item = np.asarray(item, np.int32)
        if len(user) != len(item):
            raise DataError(f"{len(user)} users vs {len(item)} items")
        for arr, label in ((rating, "rating"), (timestamp, "timestamp")):
            if arr is not None and len(arr) != len(user):
                raise DataError(f"{label} has {len(arr)} values for {len(user)} interactions")
        if len(user) and (user.min() < 0 or user.max() >= len(users)):
            raise DataError("user index out of range of the user IdIndex")
        if len(item) and (item.min() < 0 or item.max() >= len(items)):
            raise DataError("item index out of range of the item IdIndex")
        self.users = users
        self.items = items
        self.user = _ro(user)
        self.item = _ro(item)
        self.rating = _ro(None if rating is None else np.asarray(rating, np.float32))
        self.timestamp = _ro(None if timestamp is None else np.asarray(timestamp, np.int64))
        self.catalog = catalog if catalog is not None else ItemCatalog(items)
        if self.catalog.items is not items and self.catalog.items != items:
            raise DataError("catalogue is not aligned with the item IdIndex")
        self.name = name

    # ---- construction -------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        catalog: pd.DataFrame | None = None,
        name: str = "data",
        user_col: str = "user",
        item_col: str = "item",
        rating_col: str | None = "rating",
        timestamp_col: str | None = "timestamp",
        item_id_col: str = "item_id",
    ) -> Interactions:
        """Build from a DataFrame of external ids.

        ``catalog`` (optional) has one row per item keyed by ``item_id_col``; items in the
        catalogue that nobody interacted with are kept in the item index, after the
        interacted ones.
        """
        users, u = IdIndex.from_values(df[user_col].to_numpy(), kind="user")
        item_values = df[item_col].astype(str).to_numpy()
        if catalog is not None:
            cat_ids = catalog[item_id_col].astype(str)
            order = list(dict.fromkeys(list(pd.unique(item_values)) + list(cat_ids)))
            items = IdIndex(order, kind="item")
            i = items.indices(item_values)
            cat = catalog.assign(**{item_id_col: cat_ids}).drop_duplicates(item_id_col).set_index(item_id_col)
            cat = cat.reindex(pd.Index(items.ids, dtype=object))
            if "title" in cat.columns:
                cat["title"] = cat["title"].where(cat["title"].notna(), pd.Series(items.ids, index=cat.index))
            described = np.isin(np.asarray(items.ids, dtype=object), cat_ids.to_numpy(dtype=object))
            item_catalog = ItemCatalog(items, cat.reset_index(drop=True), described=described)
        else:
            items, i = IdIndex.from_values(item_values, kind="item")
            item_catalog = ItemCatalog(items)
        rating = None if rating_col is None or rating_col not in df else df[rating_col].to_numpy(np.float32)
        ts = None if timestamp_col is None or timestamp_col not in df else df[timestamp_col].to_numpy(np.int64)
        return cls(users, items, u, i, rating, ts, item_catalog, name=name)

    def with_rows(self, mask_or_idx: np.ndarray, name: str | None = None) -> Interactions:
        """Subset of rows (bool mask or indices) sharing this object's id indexes."""
        sel = np.asarray(mask_or_idx)
        take = (lambda a: None if a is None else a[sel])
        return Interactions(
            self.users, self.items, self.user[sel], self.item[sel], take(self.rating),
            take(self.timestamp), self.catalog, name or self.name,
        )

    def with_ratings(self, rating: np.ndarray | None) -> Interactions:
        """Same interactions with replaced rating values (e.g. binarised)."""
        return Interactions(self.users, self.items, self.user, self.item, rating, self.timestamp,
                            self.catalog, self.name)

    def reindexed(self) -> Interactions:
        """Drop users/items with no interactions, re-numbering indices (new id indexes)."""
        u_keep = unique_int(self.user)
        i_keep = unique_int(self.item)
        users = IdIndex(self.users.ids[u_keep], kind="user")
        items = IdIndex(self.items.ids[i_keep], kind="item")
        u_map = np.full(len(self.users), -1, np.int32)
        u_map[u_keep] = np.arange(len(u_keep))
        i_map = np.full(len(self.items), -1, np.int32)
        i_map[i_keep] = np.arange(len(i_keep))
        return Interactions(users, items, u_map[self.user], i_map[self.item], self.rating, self.timestamp,
                            self.catalog.take(i_keep, items), self.name)

    @staticmethod
    def concat(parts: Sequence[Interactions], name: str | None = None) -> Interactions:
        """Concatenate subsets that share id indexes (e.g. train + valid)."""
        first = parts[0]
        for p in parts[1:]:
            if p.users is not first.users or p.items is not first.items:
                raise DataError("concat: parts must share the same id indexes")
        cat = (lambda attr: None if any(getattr(p, attr) is None for p in parts)
               else np.concatenate([getattr(p, attr) for p in parts]))
        return Interactions(first.users, first.items, cat("user"), cat("item"), cat("rating"),
                            cat("timestamp"), first.catalog, name or first.name)

    # ---- views --------------------------------------------------------
    def __len__(self) -> int:
        return len(self.user)

    def __repr__(self) -> str:
        return (f"Interactions({self.name!r}: {len(self):,} interactions, "
                f"{self.n_users:,} users, {self.n_items:,} items)")

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @cached_property
    def order(self) -> np.ndarray:
        """Row permutation sorting by (user, timestamp, file order) — stable."""
        if self.timestamp is None:
            return np.argsort(self.user, kind="stable")
        # two stable sorts (time, then user) = lexsort by (user, time, file order), ~5x faster at 10M rows
        by_time = np.argsort(self.timestamp, kind="stable")
        return by_time[np.argsort(self.user[by_time], kind="stable")]

    def histories(self, users: np.ndarray | None = None) -> HistoryBatch:
        """Time-ordered history of every user index (or of ``users``), as one HistoryBatch."""
        o = self.order
        counts = np.bincount(self.user, minlength=self.n_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        hb = HistoryBatch(
            indptr, self.item[o], np.arange(self.n_users, dtype=np.int32),
            None if self.rating is None else self.rating[o],
            None if self.timestamp is None else self.timestamp[o],
        )
        return hb if users is None else hb.select(users)

    def csr(self, value: str = "binary") -> sp.csr_matrix:
        """(n_users, n_items) matrix; value="binary" or "rating" (last rating wins)."""
        return self.histories().to_csr(self.n_items, value)

    def item_counts(self) -> np.ndarray:
        """(n_items,) number of interactions per item."""
        return np.bincount(self.item, minlength=self.n_items)

    def user_counts(self) -> np.ndarray:
        """(n_users,) number of interactions per user."""
        return np.bincount(self.user, minlength=self.n_users)

    def to_frame(self) -> pd.DataFrame:
        """Rows with external ids: columns user, item, rating?, timestamp?."""
        out = {"user": self.users.ids[self.user], "item": self.items.ids[self.item]}
        if self.rating is not None:
            out["rating"] = self.rating
        if self.timestamp is not None:
            out["timestamp"] = self.timestamp
        return pd.DataFrame(out)

    def checksum(self) -> str:
        """SHA-256 over the interactions with external ids (stable across processes)."""
        h = hashlib.sha256()
        for arr in (self.users.ids[self.user], self.items.ids[self.item]):
            h.update("\x1f".join(arr.tolist()).encode())
        for arr in (self.rating, self.timestamp):
            h.update(b"-" if arr is None else np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def describe(self) -> dict:
        """Counts, density, rating/time ranges and the domain mix."""
        active_items = int((self.item_counts() > 0).sum())
        active_users = int((self.user_counts() > 0).sum())
        d: dict = {
            "name": self.name,
            "interactions": len(self),
            "users": active_users,
            "items": active_items,
            "catalogue_items": self.n_items,
            "density": len(self) / max(1, active_users * active_items),
        }
        if self.rating is not None and len(self):
            d["rating_min"], d["rating_max"] = float(self.rating.min()), float(self.rating.max())
            d["rating_mean"] = float(self.rating.mean())
        if self.timestamp is not None and len(self):
            d["time_min"] = pd.Timestamp(int(self.timestamp.min()), unit="s").isoformat()
            d["time_max"] = pd.Timestamp(int(self.timestamp.max()), unit="s").isoformat()
        dom = self.catalog.domain_codes[self.item]
        d["domain_mix"] = {k: int(v) for k, v in zip(*np.unique(dom, return_counts=True), strict=True)}
        return d
