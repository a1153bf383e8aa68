"""CineSync: movie & TV recommendation engine.

History in, scores out: every model scores a batch of user histories; ranking,
filtering and id mapping live outside the models.

The Python API (see docs/python.md)::

    from cinesync import load_dataset, create, evaluate

    data = load_dataset("ml-latest-small")
    model = create("ease", l2=200).fit(data)
    model.recommend("1", k=10)
    evaluate(data, models="ease,itemknn,pop", protocol="loo")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cinesync.version import __version__

if TYPE_CHECKING:
    from cinesync.api import Model, Recommendation, create, evaluate, load_dataset

__all__ = ["Model", "Recommendation", "__version__", "create", "evaluate", "load_dataset"]


def __getattr__(name: str) -> Any:
    """The API names load on first use, so ``import cinesync.data`` stays light."""
    if name in ("Model", "Recommendation", "create", "evaluate", "load_dataset"):
        from cinesync import api

        return getattr(api, name)
    raise AttributeError(f"module 'cinesync' has no attribute {name!r}")
