"""User-supplied item vectors (poster, audio, any embedding): a ``.npy`` matrix + an ids file.

Row r of the matrix belongs to the external item id on line r of the ids file (``.txt``: one id
per line; ``.csv``: one id per row, the first column, or the column named item_id / movieId / id
/ item when the first row is such a header). ``load_item_vectors`` maps the rows onto the item
indices of an ``IdIndex``: catalogue items missing from the file get a zero row and
``missing=True``; ids the catalogue does not know are counted and logged, not an error (unless
none match, which is almost always the wrong ids file). Malformed input raises ``DataError``
naming the file and what was expected.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cinesync.data.ids import IdIndex
from cinesync.errors import DataError

log = logging.getLogger(__name__)

#: header names recognised in the first row of a .csv ids file
ID_HEADERS = ("item_id", "movieid", "id", "item", "itemid")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class ItemVectors:
    """Vectors aligned to item indices.

    values: (n_items, d) float32, zero rows where ``missing``; missing: (n_items,) bool;
    n_unknown: ids in the file that no catalogue item has; source: where they came from.
    """

    values: np.ndarray
    missing: np.ndarray
    n_unknown: int = 0
    source: str = "vectors"

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])

    def with_flag(self) -> np.ndarray:
        """(n_items, d + 1) float32: ``values`` and a last column that is 1 for missing items."""
        return np.concatenate([self.values, self.missing[:, None].astype(np.float32)], axis=1)


def read_ids(path: str | os.PathLike[str]) -> np.ndarray:
    """External ids, one per row of ``path`` (.txt or .csv) -> (n,) object array of str."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: no such ids file (expected .txt or .csv with one item id per row)")
    suffix = p.suffix.lower()
    if suffix == ".txt":
        ids = [line.strip() for line in p.read_text(encoding="utf-8").splitlines()]
        while ids and ids[-1] == "":  # a trailing newline is not an id
            ids.pop()
    elif suffix == ".csv":
        try:
            df = pd.read_csv(p, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise DataError(f"{p}: cannot read as CSV ({e})") from None
        col = 0
        if len(df) and any(str(v).strip().lower() in ID_HEADERS for v in df.iloc[0]):
            header = [str(v).strip().lower() for v in df.iloc[0]]
            col = next(j for j, h in enumerate(header) if h in ID_HEADERS)
            df = df.iloc[1:]
        ids = [str(v).strip() for v in df.iloc[:, col]] if len(df) else []
    else:
        raise DataError(f"{p}: ids file must end in .txt or .csv, got {suffix or 'no suffix'!r}")
    if not ids:
        raise DataError(f"{p}: the ids file holds no ids (expected one item id per row)")
    blank = [i for i, x in enumerate(ids) if x == ""]
    if blank:
        raise DataError(f"{p}: row {blank[0] + 1} has an empty item id ({len(blank)} empty rows)")
    arr = np.asarray(ids, dtype=object)
    uniq, counts = np.unique(arr.astype(str), return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{p}: item id {str(uniq[counts > 1][0])!r} appears {int(counts[counts > 1][0])} times "
                        "(each row must be a different item)")
    return arr


def read_matrix(path: str | os.PathLike[str]) -> np.ndarray:
    """(n, d) finite float32 matrix from a ``.npy`` file, or a DataError naming the file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: no such vectors file (expected a .npy matrix, one row per item)")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(f"{p}: not a readable .npy array of numbers ({e})") from None
    return check_matrix(arr, str(p))


def check_matrix(arr: np.ndarray, source: str) -> np.ndarray:
    """``arr`` as (n, d) finite float32; DataError naming ``source`` on a bad dtype, shape or value."""
    arr = np.asarray(arr)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{source}: vectors must be numbers (float), got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise DataError(f"{source}: vectors have shape {arr.shape}, expected a 2-D (n_rows, d) matrix "
                        "with at least one row and column")
    arr = arr.astype(np.float32)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise DataError(f"{source}: {int(bad.sum())} rows hold NaN or inf (first: row {int(np.argmax(bad))})")
    return arr


def align_vectors(matrix: np.ndarray, ids: np.ndarray, items: IdIndex, source: str = "vectors") -> ItemVectors:
    """Map ``matrix`` rows (row r = external id ``ids[r]``) onto ``items``' indices.

    matrix: (n_rows, d); ids: (n_rows,) external ids -> ItemVectors with (len(items), d) values.
    """
    matrix = check_matrix(matrix, source)
    ids = np.asarray(ids, dtype=object)
    if ids.ndim != 1 or len(ids) != len(matrix):
        raise DataError(f"{source}: {len(ids)} ids for {len(matrix)} vector rows (expected one id per row, "
                        "in the same order)")
    idx = items.indices(ids, missing="minus1").astype(np.int64)
    known = idx >= 0
    n_unknown = int((~known).sum())
    if not known.any():
        raise DataError(f"{source}: none of its {len(ids)} ids is an item id of the catalogue "
                        f"(first: {str(ids[0])!r}; catalogue ids look like {str(items.ids[0])!r})")
    values = np.zeros((len(items), matrix.shape[1]), np.float32)
    values[idx[known]] = matrix[known]
    missing = np.ones(len(items), bool)
    missing[idx[known]] = False
    if n_unknown:
        log.warning("%s: %d of %d ids are not in the catalogue and were skipped (e.g. %s)", source, n_unknown,
                    len(ids), ", ".join(repr(str(x)) for x in ids[~known][:3]))
    log.info("%s: %d-d vectors for %d of %d items (%d missing -> zero vector + missing flag)", source,
             matrix.shape[1], int((~missing).sum()), len(items), int(missing.sum()))
    return ItemVectors(values, missing, n_unknown, source)


def load_item_vectors(matrix_path: str | os.PathLike[str], ids_path: str | os.PathLike[str],
                      items: IdIndex) -> ItemVectors:
    """Read ``matrix_path`` (.npy, (n_rows, d)) + ``ids_path`` (one external id per row) and align
    them to ``items`` (see ``align_vectors``); errors name both files."""
    matrix = read_matrix(matrix_path)
    ids = read_ids(ids_path)
    return align_vectors(matrix, ids, items, source=f"{Path(matrix_path).name} + {Path(ids_path).name}")


def check_name(name: str) -> str:
    """A vector block name (``vectors:NAME``): letters, digits, '_' and '-' only."""
    if not NAME_PATTERN.match(name):
        raise DataError(f"vector block name {name!r} must be letters, digits, '_' or '-'")
    return name
