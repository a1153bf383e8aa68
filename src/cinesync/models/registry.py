"""Registry: model name -> class, so the CLI and evaluation build any model from name + config.

Built-in models are listed in ``BUILTIN`` (name -> the module that defines it, and its family);
a module is imported the first time one of its models is asked for, so listing or selecting models
never imports PyTorch, and a model whose optional dependency is missing fails with one line naming
the extra to install. Third-party models call ``register`` themselves. No discovery by naming
convention.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cinesync.errors import ConfigError
from cinesync.extras import from_import_error

if TYPE_CHECKING:
    from cinesync.models.base import Recommender

#: model groups: "classical" (collaborative baselines), "neural" (torch networks), "content" (text
#: embeddings; the first run encodes the catalogue), "crossdomain" and "ensemble" (built from other
#: models; run through their own commands, or by name)
FAMILIES = ("classical", "neural", "content", "crossdomain", "ensemble")

#: built-in model name -> (defining module, family); the module registers the class on import
BUILTIN: dict[str, tuple[str, str]] = {
    "pop": ("cinesync.models.popular", "classical"),
    "random": ("cinesync.models.popular", "classical"),
    "itemknn": ("cinesync.models.itemknn", "classical"),
    "userknn": ("cinesync.models.userknn", "classical"),
    "rp3beta": ("cinesync.models.rp3beta", "classical"),
    "seqrules": ("cinesync.models.seqrules", "classical"),
    "ease": ("cinesync.models.ease", "classical"),
    "als": ("cinesync.models.als", "classical"),
    "bpr": ("cinesync.models.als", "classical"),
    "biasedmf": ("cinesync.models.biasedmf", "classical"),
    "content": ("cinesync.models.content", "content"),
    "hybrid": ("cinesync.models.hybrid", "content"),
    "emcdr": ("cinesync.models.emcdr", "crossdomain"),
    "ensemble": ("cinesync.models.ensemble.model", "ensemble"),
    "sasrec": ("cinesync.models.neural.sasrec", "neural"),
    "bert4rec": ("cinesync.models.neural.bert4rec", "neural"),
    "twotower": ("cinesync.models.neural.twotower", "neural"),
    "multvae": ("cinesync.models.neural.multvae", "neural"),
    "lightgcn": ("cinesync.models.neural.lightgcn", "neural"),
    "ncf": ("cinesync.models.neural.ncf", "neural"),
}

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
    """Every model name (built-in and registered), sorted; nothing is imported."""
    return sorted(set(BUILTIN) | set(_REGISTRY))


def family(name: str) -> str:
    """The group ``name`` belongs to (see ``FAMILIES``), without importing a built-in model."""
    key = name.lower()
    if key in BUILTIN:
        return BUILTIN[key][1]
    return model_class(key).family


def by_family(*families: str) -> list[str]:
    """Model names in any of ``families``, sorted."""
    bad = sorted(set(families) - set(FAMILIES))
    if bad:
        raise ConfigError(f"unknown model group(s) {bad}; groups: {', '.join(FAMILIES)}")
    return [n for n in available() if family(n) in families]


def model_class(name: str) -> type[Recommender]:
    """The class registered as ``name`` (imports a built-in model's module on first use)."""
    key = name.lower()
    if key not in _REGISTRY and key in BUILTIN:
        try:
            importlib.import_module(BUILTIN[key][0])
        except ImportError as e:
            raise from_import_error(e, f"model {key!r}") from None
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(available())}") from None


def create(name: str, config: dict[str, Any] | None = None, **params: Any) -> Recommender:
    """Build an unfitted model from its name and a config (a dict and/or keyword parameters)."""
    return model_class(name)(config or {}, **params)
