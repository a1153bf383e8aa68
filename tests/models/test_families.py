"""Model groups for ``--models GROUP``: every registered model names a known family."""

from __future__ import annotations

from cinesync.cli import _parse_models
from cinesync.models import available, model_class
from cinesync.models.base import FAMILIES


def test_every_model_has_a_known_family() -> None:
    bad = {n: model_class(n).family for n in available() if model_class(n).family not in FAMILIES}
    assert not bad


def test_groups_partition_the_registry() -> None:
    groups = {g: set(_parse_models(g)) for g in FAMILIES}
    assert set().union(*groups.values()) == set(available())
    assert sum(len(v) for v in groups.values()) == len(available())
    assert {"ease", "als", "pop"} <= groups["classical"]
    assert {"sasrec", "multvae"} <= groups["neural"] and {"content", "hybrid"} <= groups["content"]
    assert set(_parse_models("all")) == groups["classical"] | groups["neural"] | groups["content"]


def test_explicit_names_keep_their_order() -> None:
    assert _parse_models("ease, POP") == ["ease", "pop"]
