"""Row-level checks of a loaded table: every bad row is named by its file line, and the caller chooses
to fail (the default) or to skip the bad rows and report them.

A check is a (n_rows,) bool mask plus a function that says what is wrong with one bad row. Line
numbers are those of the file: the header is line 1 and blank lines count, as an editor shows them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from cinesync.data.ratings import RatingScale
from cinesync.errors import ConfigError, DataError

log = logging.getLogger(__name__)

BadRows = Literal["error", "skip"]
#: C0 control characters and DEL: an id holding one cannot be addressed in a URL and some databases refuse it
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: bad rows quoted in an error message or a report
SHOWN = 5


@dataclass
class Skipped:
    """Rows a load left out: the file, how many, and the first few as (line, reason)."""

    label: str
    count: int
    examples: list[tuple[int, str]] = field(default_factory=list)
    unit: str = "line"

    def __str__(self) -> str:
        shown = "; ".join(f"{self.unit} {line}: {why}" for line, why in self.examples)
        more = f" (and {self.count - len(self.examples)} more)" if self.count > len(self.examples) else ""
        return f"{self.label}: skipped {self.count:,} bad row(s): {shown}{more}"


def check_policy(policy: str) -> BadRows:
    if policy not in ("error", "skip"):
        raise ConfigError(f"bad-row policy must be 'error' or 'skip', got {policy!r}")
    return policy  # type: ignore[return-value]


class RowCheck:
    """Collects the problems of one table's rows (the first problem of a row wins)."""

    def __init__(self, n_rows: int, label: str, lines: Callable[[np.ndarray], np.ndarray], unit: str = "line") -> None:
        self.label = label
        self.unit = unit
        self.bad = np.zeros(n_rows, bool)
        self._lines = lines
        self._why: list[tuple[np.ndarray, Callable[[int], str]]] = []

    def add(self, mask: np.ndarray, why: Callable[[int], str]) -> None:
        """Rows where ``mask`` is True are bad; ``why(row)`` describes one of them."""
        mask = np.asarray(mask, bool) & ~self.bad
        if mask.any():
            self.bad |= mask
            self._why.append((mask, why))

    def _reason(self, row: int) -> str:
        for mask, why in self._why:
            if mask[row]:
                return why(row)
        return "bad row"

    def resolve(self, policy: BadRows, hint: str = "") -> tuple[np.ndarray, Skipped | None]:
        """(keep mask, report): raises DataError naming the first bad line for policy "error"."""
        if not self.bad.any():
            return ~self.bad, None
        rows = np.flatnonzero(self.bad)
        first = rows[:SHOWN]
        lines = self._lines(first)
        examples = [(int(line), self._reason(int(r))) for line, r in zip(lines, first, strict=True)]
        if policy == "error":
            line, why = examples[0]
            others = ""
            if len(rows) > 1:
                listed = ", ".join(str(x) for x, _ in examples[1:])
                more = ", ..." if len(rows) > SHOWN else ""
                others = f" ({len(rows):,} bad rows in all; also {self.unit}(s) {listed}{more})"
            raise DataError(f"{self.label}: {self.unit} {line}: {why}{others}. Nothing was loaded; fix the file"
                            f"{hint} or pass --skip-bad-rows to leave such rows out and report them")
        report = Skipped(self.label, len(rows), examples, self.unit)
        log.warning("%s", report)
        return ~self.bad, report


def control_rows(values: pd.Series) -> np.ndarray:
    """(n,) bool: string values holding a control character (numbers never do)."""
    if pd.api.types.is_numeric_dtype(values):
        return np.zeros(len(values), bool)
    return values.astype(str).str.contains(CONTROL.pattern, regex=True).to_numpy(dtype=bool)


def line_mapper(read_bytes: Callable[[], bytes], header: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """Row indices -> 1-based file lines: rows are the file's non-blank lines after the header (the
    rows a CSV reader keeps). The file is read only when a bad row has to be named."""

    def lines(rows: np.ndarray) -> np.ndarray:
        text = read_bytes().decode("utf-8", errors="replace").splitlines()
        data_lines = [i + 1 for i, line in enumerate(text) if line.strip()]
        if header and data_lines:
            data_lines = data_lines[1:]
        table = np.asarray(data_lines, np.int64)
        rows = np.asarray(rows, np.int64)
        out = rows + 1 + int(header)
        inside = rows < len(table)
        out[inside] = table[rows[inside]]
        return out

    return lines


def check_ratings(src: Any, member: str, df: pd.DataFrame, column: str, scale: RatingScale, header: bool,
                  bad_rows: BadRows, report: list[Skipped] | None) -> pd.DataFrame:
    """``df`` (read from ``member`` of Source ``src``) with its ratings checked against ``scale``: raises
    naming the first bad line, or (``bad_rows="skip"``) drops the bad rows and appends them to ``report``."""
    values = df[column].to_numpy(np.float64)
    check = RowCheck(len(df), src.label(member), line_mapper(lambda: _read_all(src, member), header))
    check.add(scale.invalid(values), lambda i: f"rating {values[i]:g} is not on the rating scale {scale}")
    keep, skipped = check.resolve(check_policy(bad_rows))
    if skipped is None:
        return df
    if report is not None:
        report.append(skipped)
    return df[keep].reset_index(drop=True)


def _read_all(src: Any, member: str) -> bytes:
    with src.open(member) as fh:
        return fh.read()
