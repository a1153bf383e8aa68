"""IdIndex: the one place external ids (strings) meet contiguous indices 0..n-1."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from cinesync.errors import UnknownIdError


class IdIndex:
    """Immutable bijection between external ids (stored as ``str``) and ``0..n-1``.

    ``kind`` ("user" / "item") only makes error messages precise.
    """

    __slots__ = ("_ids", "_lookup", "kind")

    def __init__(self, ids: Iterable[object], kind: str = "id") -> None:
        arr = np.asarray([str(x) for x in ids], dtype=object)
        lookup = {x: i for i, x in enumerate(arr)}
        if len(lookup) != len(arr):
            seen: set[str] = set()
            dup = next(x for x in arr if x in seen or seen.add(x))
            raise ValueError(f"duplicate {kind} id {dup!r} in IdIndex")
        arr.flags.writeable = False
        self._ids = arr
        self._lookup = lookup
        self.kind = kind

    @classmethod
    def from_values(cls, values: Sequence[object], kind: str = "id") -> tuple[IdIndex, np.ndarray]:
        """Index the distinct values in first-seen order; return (index, codes int32)."""
        import pandas as pd

        codes, uniques = pd.factorize(pd.Series(values, dtype=str), sort=False)
        return cls(uniques, kind=kind), codes.astype(np.int32)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, ext: object) -> bool:
        return str(ext) in self._lookup

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdIndex) and np.array_equal(self._ids, other._ids)

    def __hash__(self) -> int:
        return hash(tuple(self._ids))

    def __repr__(self) -> str:
        return f"IdIndex({self.kind}, n={len(self)})"

    @property
    def ids(self) -> np.ndarray:
        """External ids in index order (read-only object array of str)."""
        return self._ids

    def index(self, ext: object) -> int:
        """Index of one external id; raises UnknownIdError naming the id."""
        try:
            return self._lookup[str(ext)]
        except KeyError:
            raise UnknownIdError(f"unknown {self.kind} id {str(ext)!r}") from None

    def indices(
        self, exts: Iterable[object], missing: Literal["error", "drop", "minus1"] = "error"
    ) -> np.ndarray:
        """Indices of many external ids (int32).

        missing="error" raises on the first unknown id, "drop" skips unknown ids,
        "minus1" maps them to -1.
        """
        out = []
        for e in exts:
            i = self._lookup.get(str(e))
            if i is None:
                if missing == "error":
                    raise UnknownIdError(f"unknown {self.kind} id {str(e)!r}")
                if missing == "drop":
                    continue
                i = -1
            out.append(i)
        return np.asarray(out, dtype=np.int32)

    def id(self, idx: int) -> str:
        """External id of one index."""
        if not 0 <= int(idx) < len(self._ids):
            raise UnknownIdError(f"{self.kind} index {idx} out of range 0..{len(self._ids) - 1}")
        return str(self._ids[int(idx)])

    def ids_of(self, idx: np.ndarray | Sequence[int]) -> list[str]:
        """External ids of many indices."""
        return [str(x) for x in self._ids[np.asarray(idx, dtype=np.int64)]]

    def extend(self, new_ids: Iterable[object]) -> IdIndex:
        """A new index with ``new_ids`` (not yet present) appended; existing indices unchanged."""
        extra = [str(x) for x in new_ids if str(x) not in self._lookup]
        extra = list(dict.fromkeys(extra))
        return IdIndex(list(self._ids) + extra, kind=self.kind)
