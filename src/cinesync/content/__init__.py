"""Content understanding: item text embeddings (MiniLM, cached on disk) in ``embeddings`` and
user-supplied item vectors aligned to the catalogue in ``vectors``. "More like this" by embedding
cosine is a ranking: ``cinesync.ranking.similar``."""

from cinesync.content.embeddings import (
    FIELDS,
    default_cache_dir,
    encode_texts,
    item_embeddings,
    item_texts,
    resolve_model_path,
)

__all__ = ["FIELDS", "default_cache_dir", "encode_texts", "item_embeddings", "item_texts", "resolve_model_path"]
