"""Save / load models as ``model.json`` (name, config, metadata) + ``arrays.npz`` — no pickle.

Sparse matrices are stored by their CSR components; id indexes (optional) as unicode arrays.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinesync.data.ids import IdIndex
from cinesync.errors import CineSyncError
from cinesync.version import __version__

FORMAT = 1


def _flatten(state: dict[str, Any]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, val in state.items():
        if "::" in key:
            raise ValueError(f"state key {key!r} may not contain '::'")
        if sp.issparse(val):
            m = sp.csr_matrix(val)
            out[f"{key}::csr_data"] = m.data
            out[f"{key}::csr_indices"] = m.indices
            out[f"{key}::csr_indptr"] = m.indptr
            out[f"{key}::csr_shape"] = np.asarray(m.shape, np.int64)
        else:
            arr = np.asarray(val)
            if arr.dtype == object:
                raise TypeError(f"state {key!r} is an object array; convert it to a numeric or str dtype")
            out[key] = arr
    return out


def _unflatten(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in arrays:
        if "::" not in key:
            out[key] = arrays[key]
        elif key.endswith("::csr_data"):
            base = key[: -len("::csr_data")]
            shape = tuple(int(x) for x in arrays[f"{base}::csr_shape"])
            out[base] = sp.csr_matrix(
                (arrays[key], arrays[f"{base}::csr_indices"], arrays[f"{base}::csr_indptr"]), shape=shape
            )
    return out


def save_model(
    model: Any, path: str | os.PathLike, meta: dict[str, Any] | None = None,
    users: IdIndex | None = None, items: IdIndex | None = None,
) -> Path:
    """Write ``model`` (fitted) to directory ``path``; returns the path."""
    if model.n_items_ is None:
        raise CineSyncError(f"cannot save unfitted model {model.name!r}")
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    arrays = _flatten(model.state())
    if users is not None:
        arrays["__ids__::users"] = users.ids.astype(str)
    if items is not None:
        arrays["__ids__::items"] = items.ids.astype(str)
    tmp = p / "arrays.npz.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, p / "arrays.npz")
    doc = {
        "format": FORMAT,
        "cinesync_version": __version__,
        "model": model.name,
        "config": model.config.model_dump(mode="json"),
        "n_items": model.n_items_,
        "meta": meta or {},
    }
    (p / "model.json").write_text(json.dumps(doc, indent=2, default=str))
    return p


def load_model(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """Load a model saved by ``save_model``; returns (model, document with 'users'/'items' IdIndex if saved)."""
    from cinesync.models.registry import create

    p = Path(path)
    if not (p / "model.json").is_file() or not (p / "arrays.npz").is_file():
        raise CineSyncError(f"{p}: not a saved model (expected model.json and arrays.npz)")
    try:
        doc = json.loads((p / "model.json").read_text())
    except json.JSONDecodeError as e:
        raise CineSyncError(f"{p / 'model.json'}: invalid JSON ({e})") from None
    if doc.get("format") != FORMAT:
        raise CineSyncError(f"{p}: unsupported artifact format {doc.get('format')!r} (expected {FORMAT})")
    with np.load(p / "arrays.npz", allow_pickle=False) as z:
        raw = {k: z[k] for k in z.files}
    ids = {k.split("::", 1)[1]: v for k, v in raw.items() if k.startswith("__ids__::")}
    raw = {k: v for k, v in raw.items() if not k.startswith("__ids__::")}
    model = create(doc["model"], doc["config"])
    model.load_state(_unflatten(raw), doc["n_items"])
    if "users" in ids:
        doc["users"] = IdIndex(ids["users"], kind="user")
    if "items" in ids:
        doc["items"] = IdIndex(ids["items"], kind="item")
    return model, doc
