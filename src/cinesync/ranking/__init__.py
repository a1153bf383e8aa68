"""Ranking: the only place that turns scores into lists.

``lists`` (seen-item exclusion, candidate masks, top-k), ``chunked`` (the one chunked
score -> top-k loop over a batch of histories), ``quota`` (movie/TV mix), ``diversity`` (MMR),
``similar`` ("more like this" by cosine) and ``candidates`` (unions of several top-N lists).
"""

from cinesync.ranking.lists import mask_items, recommend, topk

__all__ = ["mask_items", "recommend", "topk"]
