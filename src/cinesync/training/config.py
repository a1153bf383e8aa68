"""``TrainConfig``: the optimisation settings of one training run, declared once.

Every neural model's config inherits these fields (``models.neural.common.NeuralConfig``) and may
override a default; the trainer reads them from there. What is not a hyper-parameter (seed, device,
checkpoint folder, metrics log, tracker) travels separately as ``trainer.RunOptions``.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import pydantic


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether a field typed ``annotation`` takes ``value`` as it is: a number where a number (or a
    container pydantic checks itself) is expected, true/false only where a bool is, a string only
    where a string is."""
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return any(type(v) is type(value) or (type(v) in (int, float) and type(value) in (int, float))
                   for v in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _accepts(typing.get_args(annotation)[0], value)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(a, value) for a in typing.get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, (list, tuple, set, frozenset)):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if not args:
            return True
        if origin is tuple and Ellipsis not in typing.get_args(annotation):
            return len(value) == len(args) and all(_accepts(a, v) for a, v in zip(args, value, strict=True))
        return all(_accepts(args[0], v) for v in value)
    if origin is dict:
        args = typing.get_args(annotation)
        return isinstance(value, dict) and (not args or all(_accepts(args[1], v) for v in value.values()))
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return not isinstance(value, (bool, int, float, str))
    if isinstance(value, bool):
        return annotation is bool
    if isinstance(value, (int, float)):
        return annotation in (int, float)
    if isinstance(value, str):
        return annotation is str
    return True


class StrictValues(pydantic.BaseModel):
    """Settings whose values are what they say: ``true`` / ``false`` or a string where a number is
    expected, or 0 / 1 where true/false is, is refused (pydantic would convert them), so a config
    validated here means what its JSON Schema says. Arrays for tuples and integral floats for ints
    stay accepted."""

    @pydantic.field_validator("*", mode="before")
    @classmethod
    def _no_coercion(cls, value: Any, info: pydantic.ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None or value is None or _accepts(field.annotation, value):
            return value
        if isinstance(value, (list, tuple, dict, set, frozenset)):
            text = repr(value)
            text = text if len(text) < 60 else text[:57] + "..."
            raise ValueError(f"must be {_describe(field.annotation)}, got {text}")
        what = "true/false" if isinstance(value, bool) else "a string" if isinstance(value, str) else \
            "a number" if isinstance(value, (int, float)) else type(value).__name__
        raise ValueError(f"must be {_describe(field.annotation)}, not {what}")


def _describe(annotation: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if annotation in names:
        return names[annotation]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if typing.get_origin(annotation) in (list, tuple):
        items = [a for a in args if a is not Ellipsis]
        return f"a list of {_plural(_describe(items[0]))}" if len(set(items)) == 1 else "a list"
    if typing.get_origin(annotation) is dict:
        return "an object"
    if typing.get_origin(annotation) is typing.Annotated:
        return _describe(args[0])
    return " or ".join(dict.fromkeys(_describe(a) for a in args)) or str(annotation)


def _plural(what: str) -> str:
    """"a number" -> "numbers"."""
    words = what.split(" ", 1)
    return f"{words[1]}s" if len(words) == 2 and words[0] in ("a", "an") and " " not in words[1] else what


class TrainConfig(StrictValues):
    """epochs: passes over the data; lr / weight_decay: AdamW; batch_size: examples per step;
    warmup_frac: share of the steps with a linear warm-up; schedule: the learning-rate curve after it;
    grad_clip: global gradient-norm cap (None = no clipping); grad_accum: batches per optimiser step;
    patience: evaluations without a better validation NDCG@10 before stopping (None = never);
    eval_every: epochs between validations."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    epochs: int = pydantic.Field(50, ge=1)
    lr: float = pydantic.Field(1e-3, gt=0.0)
    weight_decay: float = pydantic.Field(0.0, ge=0.0)
    batch_size: int = pydantic.Field(128, ge=1)
    warmup_frac: float = pydantic.Field(0.05, ge=0.0, lt=1.0)
    schedule: Literal["cosine", "onecycle", "constant"] = "cosine"
    grad_clip: float | None = pydantic.Field(1.0, gt=0.0)
    grad_accum: int = pydantic.Field(1, ge=1)
    patience: int | None = pydantic.Field(5, ge=1)
    eval_every: int = pydantic.Field(1, ge=1)


#: the field names of ``TrainConfig`` (a neural model's config passes exactly these to the trainer)
TRAIN_FIELDS = tuple(TrainConfig.model_fields)
