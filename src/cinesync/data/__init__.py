"""Data layer: id indexes, immutable interaction sets, loaders, filters and splits."""

from cinesync.data.dataset import Interactions, ItemCatalog
from cinesync.data.history import HistoryBatch
from cinesync.data.ids import IdIndex

__all__ = ["HistoryBatch", "IdIndex", "Interactions", "ItemCatalog"]
