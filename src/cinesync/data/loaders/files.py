"""Where loader input comes from (a zip archive or a folder) and checked reading of delimited files.

Every problem with an input file surfaces as a ``DataError`` that names the file (``archive.zip:member``
for zip members), the 1-based line where it applies, and what was expected. The happy path is the
pandas C parser with fixed dtypes (fast enough for 25M-row files); only when something is wrong is the
file re-read as text, in chunks, to find the first offending line.
"""

from __future__ import annotations

import csv
import logging
import os
import time
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np
import pandas as pd

from cinesync.errors import DataError

log = logging.getLogger(__name__)

SEPARATORS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", "::": "'::'"}
_MAX_DEPTH = 2  # folders: look at most two levels down for data files
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError)


class Source:
    """A zip archive or a folder; files are addressed by relative posix paths ("ml-1m/ratings.dat").

    Use as a context manager so an opened archive is closed again.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataError(f"{p}: no such file or folder")
        self.path = p
        self._zip: zipfile.ZipFile | None = None
        self._members: list[str] | None = None
        if not p.is_dir():
            try:
                self._zip = zipfile.ZipFile(p)
            except (zipfile.BadZipFile, OSError) as e:
                raise DataError(f"{p}: cannot read it as a zip archive ({e}); the file is corrupt, "
                                "truncated or not a zip (download it again or pass the extracted folder)") from e
            self._members = sorted(i.filename for i in self._zip.infolist() if not i.is_dir())

    @property
    def members(self) -> list[str]:
        """Every file (relative posix path); folders are listed lazily, at most two levels deep."""
        if self._members is None:
            self._members = _walk(self.path)
        return self._members

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def label(self, member: str) -> str:
        """Human-readable location of ``member`` for messages."""
        return f"{self.path}:{member}" if self._zip is not None else str(self.path / member)

    def open(self, member: str) -> IO[bytes]:
        """Binary file object for ``member`` (caller closes it)."""
        if self._zip is not None:
            return self._zip.open(member)
        return open(self.path / member, "rb")

    def head(self, member: str, n: int = 65536) -> bytes:
        """First ``n`` bytes of ``member``."""
        try:
            with self.open(member) as fh:
                return fh.read(n)
        except _CORRUPT as e:
            raise DataError(f"{self.label(member)}: corrupt archive member ({e})") from e

    def roots(self, required: Sequence[str]) -> list[str]:
        """Folders ("" or "dir/") holding every basename in ``required``, shallowest first."""
        by_dir: dict[str, set[str]] = {}
        for m in self.members:
            pp = PurePosixPath(m)
            parent = "" if str(pp.parent) == "." else f"{pp.parent}/"
            by_dir.setdefault(parent, set()).add(pp.name)
        found = [d for d, names in by_dir.items() if set(required) <= names]
        return sorted(found, key=lambda d: (d.count("/"), d))

    def find(self, root: str, name: str) -> str | None:
        """Member ``root + name`` if present."""
        m = root + name
        return m if m in self.members else None

    def missing(self, required: Sequence[str], what: str) -> DataError:
        """The error for a source lacking the files of layout ``what``."""
        shown = ", ".join(self.members[:30]) + (f", ... ({len(self.members)} files)" if len(self.members) > 30 else "")
        kind = "zip archive" if self._zip is not None else "folder"
        return DataError(f"{self.path}: this {kind} has no {' + '.join(required)} (expected for {what}); "
                         f"found: {shown or 'no files'}")


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        depth = 0 if str(rel) == "." else len(rel.parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < _MAX_DEPTH else []
        out += [(rel / f).as_posix() if depth else f for f in filenames if not f.startswith(".")]
    return sorted(out)


def decode_text(raw: bytes, label: str) -> str:
    """UTF-8, falling back to latin-1 (older MovieLens releases are latin-1)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.info("%s is not UTF-8; reading it as latin-1", label)
        return raw.decode("latin-1")


def read_lines(src: Source, member: str) -> list[str]:
    """All non-empty lines of a small text file (metadata files parsed in Python)."""
    try:
        with src.open(member) as fh:
            raw = fh.read()
    except _CORRUPT as e:
        raise DataError(f"{src.label(member)}: corrupt archive member ({e})") from e
    if not raw.strip():
        raise DataError(f"{src.label(member)}: file is empty")
    return decode_text(raw, src.label(member)).splitlines()


def guess_separator(line: str) -> str | None:
    """The most frequent known separator in ``line`` (None if none occurs)."""
    counts = {s: line.count(s) for s in SEPARATORS}
    if counts["::"]:
        return "::"
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else None


def _sep_error(label: str, line: str, sep: str, n_expected: int) -> DataError:
    guess = guess_separator(line)
    seen = f"the file seems to be {SEPARATORS[guess]}-separated" if guess and guess != sep else "no separator found"
    return DataError(f"{label}: only one column found in line 1 ({line[:80]!r}); {seen}, "
                     f"expected {n_expected} {SEPARATORS.get(sep, repr(sep))}-separated columns")


def check_header(src: Source, member: str, sep: str, required: Sequence[str]) -> list[str]:
    """Validate line 1 of a file with a header; return its column names.

    Raises DataError for an empty file, a wrong separator, duplicate column names or missing columns.
    """
    label = src.label(member)
    head = src.head(member)
    if not head.strip():
        raise DataError(f"{label}: file is empty")
    line = decode_text(head, label).splitlines()[0]
    names = [c.strip() for c in next(csv.reader([line], delimiter=sep))] if len(sep) == 1 else line.split(sep)
    if len(names) == 1 and len(required) > 1:
        raise _sep_error(label, line, sep, len(required))
    dups = sorted({c for c in names if names.count(c) > 1})
    if dups:
        raise DataError(f"{label}: duplicate column name(s) {dups} in the header (line 1): {names}")
    missing = [c for c in required if c not in names]
    if missing:
        raise DataError(f"{label}: missing column(s) {missing} in the header (line 1); found {names}; "
                        f"expected {list(required)}")
    return names


def read_table(
    src: Source,
    member: str,
    *,
    sep: str = ",",
    required: Sequence[str],
    optional: Sequence[str] = (),
    numeric: Mapping[str, str] | None = None,
    text: Sequence[str] = (),
    header: bool = True,
    usecols: bool = False,
) -> pd.DataFrame:
    """Read a delimited file with the C parser and validate it.

    header=False: ``required`` names the columns by position (e.g. u.data) and the first line must have
    exactly that many fields. ``numeric`` maps columns to dtypes ("int64", "float64") whose values must
    all be present and numeric; ``text`` columns are read as strings. usecols=True reads only the named
    columns (for wide files; extra fields on a line then go unnoticed).
    """
    label = src.label(member)
    numeric = dict(numeric or {})
    t0 = time.perf_counter()
    if header:
        names = check_header(src, member, sep, required)
        cols = list(required) + [c for c in optional if c in names]
    else:
        cols = list(required)
        _check_first_line(src, member, sep, len(cols))
    dtype = {c: t for c, t in numeric.items() if c in cols} | {c: str for c in text if c in cols}
    read_sep, read_names = sep, cols
    if sep == "::":  # C-parser trick: split on ':' and drop the empty fields between the '::' pairs
        read_sep = ":"
        read_names = [x for i, c in enumerate(cols) for x in ((c, f"_gap{i}") if i < len(cols) - 1 else (c,))]
    kw = dict(sep=read_sep, dtype=dtype, engine="c", encoding="utf-8")
    kw |= dict(header=0, usecols=cols if usecols else None) if header else dict(header=None, names=read_names)
    try:
        try:
            with src.open(member) as fh:
                df = pd.read_csv(fh, **kw)
        except UnicodeDecodeError:
            log.info("%s is not UTF-8; reading it as latin-1", label)
            kw["encoding"] = "latin-1"
            with src.open(member) as fh:
                df = pd.read_csv(fh, **kw)
        bad = any(df[c].isna().any() for c in numeric if c in df)
    except pd.errors.ParserError as e:
        raise DataError(f"{label}: malformed line: {_short(e)}") from e
    except _CORRUPT as e:
        raise DataError(f"{label}: corrupt archive member ({e})") from e
    except (ValueError, TypeError, OverflowError):
        bad = True
    if bad:
        try:
            problem = diagnose(src, member, kw, numeric, header)
        except pd.errors.ParserError as e:
            problem = DataError(f"{label}: malformed line: {_short(e)}")
        raise problem
    log.info("read %s: %s rows in %.2fs", label, f"{len(df):,}", time.perf_counter() - t0)
    return df[cols] if list(df.columns) != cols else df


def _short(e: Exception) -> str:
    return str(e).replace("Error tokenizing data. C error: ", "").strip()


def _check_first_line(src: Source, member: str, sep: str, n: int) -> None:
    label = src.label(member)
    head = src.head(member)
    if not head.strip():
        raise DataError(f"{label}: file is empty")
    line = decode_text(head, label).splitlines()[0]
    got = len(line.split(sep))
    if got == 1 and n > 1:
        raise _sep_error(label, line, sep, n)
    if got != n:
        raise DataError(f"{label}: line 1 has {got} {SEPARATORS.get(sep, repr(sep))}-separated fields, expected {n}")


def diagnose(src: Source, member: str, kw: dict, numeric: Mapping[str, str], header: bool) -> DataError:
    """Re-read ``member`` as text (chunked) and describe the first missing or non-numeric value."""
    label = src.label(member)
    kw = kw | dict(dtype=str, keep_default_na=False, skip_blank_lines=False, chunksize=500_000)
    offset = 2 if header else 1  # line number of row 0
    with src.open(member) as fh, pd.read_csv(fh, **kw) as chunks:
        start = 0
        for chunk in chunks:
            filled = chunk.fillna("").astype(str)
            blank = (filled == "").all(axis=1).to_numpy()
            first: tuple[int, str] | None = None
            for col, kind in numeric.items():
                if col not in filled:
                    continue
                vals = filled[col].str.strip()
                num = pd.to_numeric(vals, errors="coerce").to_numpy(dtype=float)
                wrong = np.isnan(num) | (np.mod(num, 1) != 0 if kind.startswith("int") else False)
                wrong &= ~blank
                idx = np.flatnonzero(wrong)
                if len(idx) and (first is None or idx[0] < first[0]):
                    first = (int(idx[0]), col)
            if first is not None:
                row, col = first
                line = start + row + offset
                value = str(filled[col].iloc[row])
                if header and ([str(v).strip() for v in filled.iloc[row]] == list(filled.columns)
                               or value.strip() == col):
                    return DataError(f"{label}: line {line} repeats the header (duplicate header line, "
                                     "e.g. two files concatenated)")
                if value.strip() == "":
                    return DataError(f"{label}: missing value in column {col!r} at line {line}")
                expected = "an integer" if numeric[col].startswith("int") else "a number"
                return DataError(f"{label}: non-numeric value {value!r} in column {col!r} at line {line} "
                                 f"(expected {expected})")
            start += len(chunk)
    return DataError(f"{label}: could not parse the numeric columns {list(numeric)}")
