"""Per-item arrays the engine needs on every request, computed once from the training snapshot.

Everything is indexed by the model's item index (0..n_items-1): titles, years, genres (as a
dense bool matrix and as L2-normalised rows for cosine), domains and per-domain masks,
runtimes, popularity, mean ratings, and the availability map turned into index arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from cinesync.data.arrays import unit_rows
from cinesync.data.dataset import Interactions

log = logging.getLogger(__name__)


class CatalogArrays:
    """Read-only per-item arrays for the engine (shapes: (n_items,) unless noted)."""

    def __init__(self, data: Interactions,
                 availability: dict[str, set[tuple[str, str]]] | None = None) -> None:
        cat = data.catalog
        frame = cat.frame
        n = len(cat)
        self.n = n
        self.items = data.items
        self.item_ids: list[str] = [str(x) for x in data.items.ids]
        self.titles: list[str] = frame["title"].astype(str).tolist()
        years = frame["year"]
        self.years = years.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        self.year_of: list[int | None] = [None if y is None or np.isnan(y) else int(y) for y in self.years]
        self.genres: list[tuple[str, ...]] = [tuple(g) for g in frame["genres"]]
        self.genre_names: list[str] = list(cat.genre_names)
        self.genre_col = {g: j for j, g in enumerate(self.genre_names)}
        #: (n_items, n_genres) bool and L2-normalised float32 versions of the genre matrix
        self.genre_bool = cat.genre_matrix.toarray() > 0
        self.genre_unit = unit_rows(self.genre_bool)
        self.domain = np.asarray(frame["domain"].astype(str).to_numpy(), dtype=object)
        self.domain_masks = {d: self.domain == d for d in ("movie", "tv", "other")}
        self.domain_masks["all"] = np.ones(n, bool)
        self.is_tv = self.domain_masks["tv"]
        self.overview: list[str] = frame["overview"].astype(str).tolist()
        if "runtime" in frame.columns:
            rt = pd.to_numeric(frame["runtime"], errors="coerce").astype("Float64").to_numpy(
                dtype=np.float64, na_value=np.nan)
            self.runtime = np.where(rt > 0, rt, np.nan)
        else:
            self.runtime = np.full(n, np.nan)
        self.counts = np.bincount(data.item, minlength=n).astype(np.int64)
        self.popularity = (self.counts / max(int(self.counts.max(initial=0)), 1)).astype(np.float32)
        if data.rating is not None and len(data):
            sums = np.bincount(data.item, weights=data.rating.astype(np.float64), minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.mean_rating = np.where(self.counts > 0, sums / np.maximum(self.counts, 1), np.nan)
            self.global_mean = float(data.rating.mean())
        else:
            self.mean_rating = np.full(n, np.nan)
            self.global_mean = float("nan")
        self.item_rows = np.asarray(data.item)
        self.timestamps = None if data.timestamp is None else np.asarray(data.timestamp)
        self._avail = self._index_availability(availability)

    # ---- availability --------------------------------------------------
    def _index_availability(self, availability: dict[str, set[tuple[str, str]]] | None
                            ) -> dict[tuple[str, str], np.ndarray]:
        """(provider, region) -> item indices available there; unknown item ids are skipped."""
        if not availability:
            return {}
        lookup = {x: i for i, x in enumerate(self.item_ids)}
        pairs: dict[tuple[str, str], list[int]] = {}
        unknown = 0
        for item_id, where in availability.items():
            i = lookup.get(str(item_id))
            if i is None:
                unknown += 1
                continue
            for provider, region in where:
                pairs.setdefault((str(provider), str(region)), []).append(i)
        if unknown:
            log.debug("availability: %d item ids not in the model's catalogue were skipped", unknown)
        return {k: np.asarray(v, np.int64) for k, v in pairs.items()}

    def available_mask(self, providers: Iterable[str], region: str | None) -> np.ndarray:
        """(n_items,) bool: on any of ``providers`` (empty = any provider) in ``region`` (None = any).

        Items without availability information are NOT available.
        """
        wanted = set(providers)
        mask = np.zeros(self.n, bool)
        for (p, r), idx in self._avail.items():
            if (not wanted or p in wanted) and (region is None or r == region):
                mask[idx] = True
        return mask

    # ---- genres ----------------------------------------------------------
    def genre_columns(self, names: Iterable[str]) -> np.ndarray:
        """Column indices of genre ``names`` (case-insensitive, exact); unknown -> ValueError listing valid ones."""
        lower = {g.lower(): j for g, j in self.genre_col.items()}
        cols = []
        for name in names:
            j = lower.get(str(name).strip().lower())
            if j is None:
                raise ValueError(f"unknown genre {name!r}; valid genres: {', '.join(self.genre_names) or '(none)'}")
            cols.append(j)
        return np.asarray(cols, np.int64)

    def genre_columns_matching(self, tokens: Iterable[str]) -> np.ndarray:
        """Columns whose genre name contains any of ``tokens`` (case-insensitive substring)."""
        toks = [t.lower() for t in tokens]
        return np.asarray([j for g, j in self.genre_col.items() if any(t in g.lower() for t in toks)], np.int64)

    def has_any_genre(self, cols: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Bool per item (or per item in ``rows``): has at least one genre among columns ``cols``."""
        g = self.genre_bool if rows is None else self.genre_bool[rows]
        if len(cols) == 0:
            return np.zeros(g.shape[0], bool)
        return g[:, cols].any(axis=1)

    def year(self, i: int) -> int | None:
        return self.year_of[i]
