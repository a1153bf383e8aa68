"""Model groups for ``--models GROUP``: every registered model names a known family."""

from __future__ import annotations

from cinesync.cli.common import parse_models as _parse_models
from cinesync.models import available, model_class
from cinesync.models.registry import BUILTIN, FAMILIES, family


def test_every_model_has_a_known_family() -> None:
    bad = {n: model_class(n).family for n in available() if model_class(n).family not in FAMILIES}
    assert not bad


def test_the_registry_table_matches_the_classes() -> None:
    """``BUILTIN`` names each model's module and family without importing it; both must be the class's own."""
    for name, (module, fam) in BUILTIN.items():
        cls = model_class(name)
        assert (cls.__module__, cls.family, cls.name) == (module, fam, name)
        assert family(name) == fam


def test_groups_partition_the_registry() -> None:
    groups = {g: set(_parse_models(g)) for g in FAMILIES}
    assert set().union(*groups.values()) == set(available())
    assert sum(len(v) for v in groups.values()) == len(available())
    assert {"ease", "als", "pop"} <= groups["classical"]
    assert {"sasrec", "multvae"} <= groups["neural"] and {"content", "hybrid"} <= groups["content"]
    assert set(_parse_models("all")) == groups["classical"] | groups["neural"] | groups["content"]


def test_explicit_names_keep_their_order() -> None:
    assert _parse_models("ease, POP") == ["ease", "pop"]
