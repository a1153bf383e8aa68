"""Content understanding: item text embeddings (cached) and embedding-cosine similarity."""

from cinesync.content.embeddings import (
    FIELDS,
    default_cache_dir,
    encode_texts,
    item_embeddings,
    item_texts,
    resolve_model_path,
)
from cinesync.content.similar import similar_items

__all__ = ["FIELDS", "default_cache_dir", "encode_texts", "item_embeddings", "item_texts", "resolve_model_path",
           "similar_items"]
