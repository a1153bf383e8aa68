"""Registry: model name -> class, so the CLI and evaluation build any model from name + config.

Built-in models register explicitly in ``cinesync.models.__init__``; third-party models call
``register`` themselves. No discovery by naming convention.
"""

from __future__ import annotations

from typing import Any

from cinesync.errors import ConfigError
from cinesync.models.base import Recommender

_REGISTRY: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator adding a model under its lower-case ``name``."""
    name = cls.name
    if name != name.lower():
        raise ValueError(f"model names are lower-case, got {name!r}")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"model name {name!r} already registered by {_REGISTRY[name].__qualname__}")
    _REGISTRY[name] = cls
    return cls


def available() -> list[str]:
    """Registered model names, sorted."""
    _ensure_builtin()
    return sorted(_REGISTRY)


def model_class(name: str) -> type[Recommender]:
    """The class registered as ``name``."""
    _ensure_builtin()
    try:
        return _REGISTRY[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(_REGISTRY))}") from None


def create(name: str, config: dict[str, Any] | None = None) -> Recommender:
    """Build an unfitted model from its name and a config dict."""
    return model_class(name)(config or {})


def _ensure_builtin() -> None:
    import cinesync.models  # noqa: F401  (registers the built-in models)
