"""Model versions: register trained artifacts, promote one to serving, roll back.

The served version is the latest row of ``promotions``. Promotions form a stack: ``promote``
pushes a version, ``rollback`` pops the current one and re-promotes the one below it (recorded
as a promotion of kind "rollback"), so repeated rollbacks walk back through history.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cinesync.errors import ConfigError, DataError, UnknownIdError
from cinesync.store.schema import ModelVersion, Promotion

_LABEL = re.compile(r"^(?P<model>[a-z0-9_\-]+?)-v(?P<version>\d+)$")


def next_version(s: Session, model: str) -> int:
    """1 + the highest version registered for ``model`` (1 for the first)."""
    return int(s.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.model == model)) or 0) + 1


def register_version(s: Session, model: str, path: str, config: dict[str, Any] | None = None,
                     data_checksum: str = "", metrics: dict[str, Any] | None = None,
                     info: dict[str, Any] | None = None, version: int | None = None) -> ModelVersion:
    """Record a saved artifact as ``model`` version ``version`` (default: the next one)."""
    if not model or model != model.lower():
        raise ConfigError(f"model name must be non-empty lower case, got {model!r}")
    version = next_version(s, model) if version is None else int(version)
    if s.scalar(select(ModelVersion.id).where(ModelVersion.model == model, ModelVersion.version == version)):
        raise DataError(f"model version {model}-v{version} is already registered")
    mv = ModelVersion(model=model, version=version, path=str(path), config=dict(config or {}),
                      data_checksum=data_checksum, metrics=dict(metrics or {}), info=dict(info or {}))
    s.add(mv)
    s.flush()
    return mv


def list_versions(s: Session) -> list[ModelVersion]:
    """Every registered version, oldest first."""
    return list(s.scalars(select(ModelVersion).order_by(ModelVersion.id)))


def get_version(s: Session, ref: int | str | ModelVersion) -> ModelVersion:
    """A version by row id (``3`` / ``"3"``) or label (``"ease-v2"``); UnknownIdError otherwise."""
    if isinstance(ref, ModelVersion):
        return ref
    text = str(ref).strip()
    if text.isdigit():
        mv = s.get(ModelVersion, int(text))
    elif m := _LABEL.match(text):
        mv = s.scalar(select(ModelVersion).where(ModelVersion.model == m["model"],
                                                 ModelVersion.version == int(m["version"])))
    else:
        raise UnknownIdError(f"model version must be an id (e.g. 3) or a label (e.g. ease-v2), got {text!r}")
    if mv is None:
        known = ", ".join(f"{v.id} ({v.label})" for v in list_versions(s)[-5:]) or "none registered"
        raise UnknownIdError(f"unknown model version {text!r}; latest: {known}")
    return mv


def promotion_history(s: Session) -> list[Promotion]:
    """Every promotion and rollback, oldest first."""
    return list(s.scalars(select(Promotion).order_by(Promotion.id)))


def _stack(s: Session) -> list[int]:
    """Version row ids on the promotion stack, bottom first (top = served)."""
    stack: list[int] = []
    for p in promotion_history(s):
        if p.kind == "rollback" and stack:
            stack.pop()
        if not stack or stack[-1] != p.version_pk:
            stack.append(p.version_pk)
    return stack


def promoted_version(s: Session) -> ModelVersion | None:
    """The version being served (the latest promotion), or None if nothing was promoted."""
    p = s.scalar(select(Promotion).order_by(Promotion.id.desc()).limit(1))
    return None if p is None else p.version


def promote(s: Session, version: int | str | ModelVersion) -> ModelVersion:
    """Serve ``version`` from now on (no-op if it is already served); returns it."""
    mv = get_version(s, version)
    current = promoted_version(s)
    if current is not None and current.id == mv.id:
        return mv
    s.add(Promotion(version_pk=mv.id, kind="promote"))
    s.flush()
    return mv


def rollback(s: Session) -> ModelVersion:
    """Go back to the version served before the current one; returns it."""
    stack = _stack(s)
    if len(stack) < 2:
        why = ("no version has been promoted yet" if not stack
               else f"{s.get(ModelVersion, stack[0]).label} is the only version promoted so far")
        raise ConfigError(f"cannot roll back: {why}")
    previous = s.get(ModelVersion, stack[-2])
    s.add(Promotion(version_pk=previous.id, kind="rollback"))
    s.flush()
    return previous
