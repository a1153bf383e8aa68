"""Inputs of the two-tower item tower's feature blocks: which blocks a config asks for, where each
block's per-item matrix comes from, and the upgrade of states saved before blocks existed.

Blocks: "id" (learned, no input), "meta" (``towers.meta_features``), "text" (config
``text_vectors`` .npy aligned to item indices, FitContext.item_vectors, or else the
sentence encoder ``cinesync.content.embeddings.item_embeddings`` on the training catalogue) and
"vectors:NAME" (config ``vectors[NAME] = {path, ids}``: a .npy matrix + an ids file mapped
through the catalogue's IdIndex by ``cinesync.content.vectors``, or
FitContext.block_vectors[NAME]: an ``ItemVectors`` or an (n_items, d) array).
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

import numpy as np
import pydantic

from cinesync.data.dataset import Interactions
from cinesync.errors import ConfigError
from cinesync.models.neural.towers import FIXED_BLOCKS, VECTOR_PREFIX, block_key, check_text_vectors, meta_features

log = logging.getLogger(__name__)

VECTOR_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
#: a ``vectors`` key / one entry of ``blocks``, as declared in the config's schema
VectorName = Annotated[str, pydantic.StringConstraints(pattern=VECTOR_NAME.pattern)]
#: (``check_blocks`` enforces the pattern, with a message naming the choices)
BlockName = Annotated[str, pydantic.WithJsonSchema(
    {"type": "string", "pattern": rf"^(?:{'|'.join(FIXED_BLOCKS)}|{VECTOR_PREFIX}[A-Za-z0-9_-]+)$"})]
DEFAULT_BLOCKS = ("id", "meta")


class VectorFile(pydantic.BaseModel):
    """One user-supplied vector block: a .npy (n_rows, d) matrix and its ids file (.txt / .csv)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    path: str
    ids: str


def check_blocks(blocks: list[str] | None) -> list[str] | None:
    """Validate a ``blocks`` list (ValueError naming the bad entry); None passes (= the default)."""
    if blocks is None:
        return None
    if not blocks:
        raise ValueError("blocks must name at least one of id, meta, text, vectors:NAME")
    for b in blocks:
        named = b.startswith(VECTOR_PREFIX) and VECTOR_NAME.match(b[len(VECTOR_PREFIX):])
        if b not in FIXED_BLOCKS and not named:
            raise ValueError(f"unknown item block {b!r}: expected id, meta, text or vectors:NAME "
                             "(NAME = letters, digits, '_' or '-')")
    if len(set(blocks)) != len(blocks):
        raise ValueError(f"blocks {blocks} name a block twice")
    return blocks


def check_block_config(cfg: Any) -> None:
    """Cross-field checks of blocks / fusion / text_vectors / vectors (ValueError)."""
    bad = [n for n in cfg.vectors if not VECTOR_NAME.match(n)]
    if bad:
        raise ValueError(f"vectors name {bad[0]!r} must be letters, digits, '_' or '-'")
    if cfg.blocks is not None:
        if cfg.text_vectors is not None and "text" not in cfg.blocks:
            raise ValueError("text_vectors is set but 'text' is not in blocks")
        unused = [n for n in cfg.vectors if VECTOR_PREFIX + n not in cfg.blocks]
        if unused:
            raise ValueError(f"vectors {unused} are configured but 'vectors:{unused[0]}' is not in blocks")
    elif cfg.vectors:
        raise ValueError("vectors are configured: list them in blocks as vectors:NAME")
    if cfg.fusion != "sum" and cfg.blocks is not None and len(cfg.blocks) < 2:
        raise ValueError(f"fusion {cfg.fusion!r} needs at least two blocks")


def resolve_blocks(cfg: Any, has_text: bool) -> list[str]:
    """The blocks in fusion order: config ``blocks``, else id + meta (+ text when text vectors are given)."""
    if cfg.blocks is not None:
        return list(cfg.blocks)
    return [*DEFAULT_BLOCKS, *(["text"] if has_text else [])]


def block_inputs(cfg: Any, train: Interactions, item_vectors: Any = None, block_vectors: dict[str, Any] | None = None
                 ) -> tuple[list[str], dict[str, np.ndarray]]:
    """(blocks, {block_key: (n_items, width) float32 input}) for fitting on ``train``; ``item_vectors`` and
    ``block_vectors`` are ``FitContext``'s."""
    text = given_text(cfg, train.n_items, item_vectors)
    blocks = resolve_blocks(cfg, text is not None)
    if text is not None and "text" not in blocks:
        raise ConfigError("twotower: text vectors were given but 'text' is not in blocks")
    if cfg.fusion != "sum" and len(blocks) < 2:
        raise ConfigError(f"twotower: fusion {cfg.fusion!r} needs at least two blocks, got {blocks}")
    feats: dict[str, np.ndarray] = {}
    for block in blocks:
        if block == "meta":
            feats["meta"] = meta_features(train.catalog)
        elif block == "text":
            feats["text"] = text if text is not None else encode_text(cfg, train)
        elif block.startswith(VECTOR_PREFIX):
            feats[block_key(block)] = named_vectors(cfg, block[len(VECTOR_PREFIX):], train, block_vectors or {})
    log.info("twotower: item blocks %s (input widths %s), fusion %s", blocks,
             {k: v.shape[1] for k, v in feats.items()}, cfg.fusion)
    return blocks, feats


def given_text(cfg: Any, n_items: int, given: Any) -> np.ndarray | None:
    """(n_items, d) text vectors from config ``text_vectors`` or ``given`` (FitContext.item_vectors), or None."""
    if given is not None and cfg.text_vectors is not None:
        raise ConfigError("twotower: pass text vectors either as config text_vectors or as "
                          "FitContext.item_vectors, not both")
    if given is not None:
        return check_text_vectors(given, n_items, "FitContext.item_vectors")
    if cfg.text_vectors is not None:
        from cinesync.content.vectors import read_matrix

        return check_text_vectors(read_matrix(cfg.text_vectors), n_items, cfg.text_vectors)
    return None


def encode_text(cfg: Any, train: Interactions) -> np.ndarray:
    """(n_items, d) sentence embeddings of the training catalogue (the encoder caches them on disk)."""
    from cinesync.content.embeddings import item_embeddings

    log.info("twotower: encoding the text of %d items for the 'text' block", train.n_items)
    vecs = item_embeddings(train.catalog, model_path=cfg.text_model, cache_dir=cfg.text_cache_dir)
    return check_text_vectors(vecs, train.n_items, "the text encoder")


def named_vectors(cfg: Any, name: str, train: Interactions, block_vectors: dict[str, Any]) -> np.ndarray:
    """(n_items, d + 1) input of block vectors:NAME: the vectors and a missing-item flag column."""
    from cinesync.content.vectors import ItemVectors, align_vectors, load_item_vectors

    given = block_vectors.get(name)
    if given is not None and name in cfg.vectors:
        raise ConfigError(f"twotower: vectors:{name} is both configured and in FitContext.block_vectors")
    if given is None and name not in cfg.vectors:
        raise ConfigError(f"twotower: block vectors:{name} has no input: set config vectors.{name} = "
                          f"{{path: .npy, ids: .txt/.csv}} or FitContext.block_vectors[{name!r}]")
    if given is None:
        spec = cfg.vectors[name]
        vecs = load_item_vectors(spec.path, spec.ids, train.items)
    elif isinstance(given, ItemVectors):
        vecs = given
    else:  # an array aligned to item indices: every item present
        arr = check_text_vectors(given, train.n_items, f"FitContext.block_vectors[{name!r}]")
        vecs = align_vectors(arr, train.items.ids, train.items, source=f"vectors:{name}")
    if len(vecs.values) != train.n_items:
        raise ConfigError(f"twotower: vectors:{name} has {len(vecs.values)} rows for {train.n_items} items")
    return vecs.with_flag()


def upgrade_state(arrays: dict[str, Any]) -> dict[str, Any]:
    """Saved arrays of a two-tower model from before feature blocks (separate genres / year / text
    projections, dims n_genres + text_dim) -> the block layout (one "meta" block); newer states pass."""
    if "dims.n_genres" not in arrays or "dims.meta_dim" in arrays:
        return arrays
    m = "module."
    out = {k: v for k, v in arrays.items() if k not in ("dims.n_genres", "dims.text_dim")}
    for k in ("genres", "year", "genre_proj.weight", "year_proj.weight", "text_proj.weight"):
        out.pop(m + k, None)
    keys = (["genres"] if int(arrays["dims.n_genres"]) > 0 else []) + ["year"]
    out[m + "meta"] = np.concatenate([np.asarray(arrays[m + k]) for k in keys], axis=1)
    out[m + "proj.meta.weight"] = np.concatenate([np.asarray(arrays[m + k[:5] + "_proj.weight"]) for k in keys],
                                                 axis=1)
    out["dims.meta_dim"] = np.int64(out[m + "meta"].shape[1])
    if int(arrays.get("dims.text_dim", 0)) > 0:
        out[m + "proj.text.weight"] = np.asarray(arrays[m + "text_proj.weight"])
        out["dims.text_dim"] = arrays["dims.text_dim"]
    return out
