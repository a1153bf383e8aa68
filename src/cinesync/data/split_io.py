"""Splits on disk: ``train.tsv``, ``valid.tsv``, ``test.tsv`` (header ``user\titem\trating\ttimestamp``,
external ids) plus ``split.json`` — so another library can be fed the identical split and vice versa."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from cinesync.data.dataset import Interactions
from cinesync.data.splits import TEST, TRAIN, VALID, Split, counts_line, from_labels
from cinesync.errors import DataError

log = logging.getLogger(__name__)

PARTS = ("train", "valid", "test")
HEADER = ("user", "item", "rating", "timestamp")


def write_split(split: Split, directory: str | Path) -> Path:
    """Write ``split`` to ``directory``: train.tsv, valid.tsv, test.tsv and split.json.

    Each TSV has the header ``user<TAB>item<TAB>rating<TAB>timestamp`` and external ids; rating /
    timestamp cells are empty when the data has none. split.json holds name, params,
    test_history, log and summary. Returns the directory.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for part_name in PARTS:
        part: Interactions = getattr(split, part_name)
        df = part.to_frame()
        for col in ("user", "item"):
            bad = df[col].str.contains(r"[\t\r\n]", regex=True)
            if bad.any():
                raise DataError(f"cannot write {part_name}.tsv: {col} id {df[col][bad].iloc[0]!r} contains "
                                "a tab or newline")
        for col in ("rating", "timestamp"):
            if col not in df:
                df[col] = ""
        df[list(HEADER)].to_csv(out / f"{part_name}.tsv", sep="\t", index=False, lineterminator="\n",
                                quoting=csv.QUOTE_NONE)
    meta = {"name": split.name, "params": split.params, "test_history": split.test_history,
            "log": split.log, "summary": split.summary()}
    (out / "split.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    log.info("wrote split %s to %s", split.name, out)
    return out


def _read_part(path: Path) -> pd.DataFrame:
    """One TSV as a frame of strings, checking the header and the field count (DataError names file/line)."""
    if not path.is_file():
        raise DataError(f"{path}: missing (a split directory needs {', '.join(p + '.tsv' for p in PARTS)})")
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = pd.Series(lines[1:], dtype=object).str.rstrip("\r")
    header = lines[0].rstrip("\r") if lines else ""
    if tuple(header.split("\t")) != HEADER:
        raise DataError(f"{path}, line 1: header must be {chr(9).join(HEADER)!r} (tab-separated), got {header!r}")
    wrong = (rows.str.count("\t") != len(HEADER) - 1).to_numpy()
    if wrong.any():
        i = int(np.argmax(wrong))
        raise DataError(f"{path}, line {i + 2}: expected {len(HEADER)} tab-separated fields, got {rows.iloc[i]!r}")
    df = rows.str.split("\t", expand=True) if len(rows) else pd.DataFrame(columns=range(len(HEADER)))
    df.columns = list(HEADER)
    df = df.astype(str)
    for col in ("user", "item"):
        empty = (df[col] == "").to_numpy()
        if empty.any():
            raise DataError(f"{path}, line {int(np.argmax(empty)) + 2}, column {col}: empty id")
    return df


def _numeric(frames: dict[str, pd.DataFrame], paths: dict[str, Path], col: str, integer: bool) -> np.ndarray | None:
    """Parse column ``col`` across the parts; None when every cell is empty, DataError on a bad cell."""
    if all((f[col] == "").all() for f in frames.values()):
        return None
    out = []
    for part, f in frames.items():
        parsed = pd.to_numeric(f[col], errors="coerce")
        if integer and parsed.dtype.kind in "iu":  # exact for any int64, no float round trip
            out.append(parsed.to_numpy(np.int64))
            continue
        values = parsed.to_numpy(np.float64)
        bad = ~np.isfinite(values)
        if integer:
            bad |= np.isfinite(values) & (values != np.round(values))
        if bad.any():
            i = int(np.argmax(bad))
            what = "an integer" if integer else "a number"
            raise DataError(f"{paths[part]}, line {i + 2}, column {col}: expected {what}, got {f[col].iloc[i]!r}")
        out.append(values.astype(np.int64) if integer else values.astype(np.float32))
    return np.concatenate(out)


def read_split(directory: str | Path, catalog_from: Interactions | None = None) -> Split:
    """Read a split directory (train.tsv, valid.tsv, test.tsv; split.json optional).

    One user and one item IdIndex are built over the union of the three files (first seen in
    train, then valid, then test), so the item universe is the items seen in any file.
    ``catalog_from`` supplies catalogue rows (title, genres, ...) for matching item ids.
    test_history is "train+valid" unless split.json says otherwise; name is "dir:<path>".
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{root}: split directory not found")
    paths = {p: root / f"{p}.tsv" for p in PARTS}
    frames = {p: _read_part(paths[p]) for p in PARTS}
    if len(frames["train"]) == 0:
        raise DataError(f"{paths['train']}: no interactions (train must not be empty)")
    rating = _numeric(frames, paths, "rating", integer=False)
    timestamp = _numeric(frames, paths, "timestamp", integer=True)
    both = pd.concat(list(frames.values()), ignore_index=True)
    catalog = None
    if catalog_from is not None:
        catalog = catalog_from.catalog.frame
        catalog = catalog[catalog["item_id"].isin(set(both["item"]))]
    full = Interactions.from_frame(both[["user", "item"]], catalog=catalog, name=f"dir:{root}")
    full = Interactions(full.users, full.items, full.user, full.item, rating, timestamp, full.catalog, full.name)
    sizes = np.cumsum([0] + [len(frames[p]) for p in PARTS])
    labels = np.repeat(np.array([TRAIN, VALID, TEST], np.int8), np.diff(sizes))
    meta: dict = {}
    if (root / "split.json").is_file():
        try:
            meta = json.loads((root / "split.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{root / 'split.json'}, line {exc.lineno}: invalid JSON ({exc.msg})") from None
    test_history = meta.get("test_history", "train+valid")
    if test_history not in ("train+valid", "train"):
        raise DataError(f"{root / 'split.json'}: test_history must be 'train+valid' or 'train', got {test_history!r}")
    params = {"path": str(root), "source_name": meta.get("name"), "source_params": meta.get("params", {})}
    lines = [*meta.get("log", []), counts_line(full, f"read from {root}")]
    return from_labels(full, labels, f"dir:{root}", params, test_history, lines)
