"""What every command shares: the consoles, logging, the one way to report expected failures, the
options several commands take, and the parsers of their values.

The command line is the only layer that reads argv and the environment; ``threads_from_env`` and
``shared_data`` are the environment / checkout lookups it hands on as plain values.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from cinesync.errors import CineSyncError
from cinesync.extras import from_import_error

#: standard output (wide enough for the leaderboard when piped to a file) and standard error
console = Console(width=None if sys.stdout.isatty() else 180, soft_wrap=True)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160, soft_wrap=True)

#: third-party loggers kept at WARNING unless --verbose
QUIET_LOGGERS = ("matplotlib", "PIL", "numba", "sentence_transformers", "transformers", "httpx", "urllib3",
                 "alembic", "discord", "asyncio")

#: the shared data folder next to a source checkout (``<checkout>/../shared/data``)
SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"

# ---- options several commands take --------------------------------------------------------------
DatasetOpt = Annotated[str, typer.Option("--dataset", "-d", help="Bundled/known name (ml-latest-small, ml-100k, "
                       "ml-1m, ..., anime, csv, parquet) or a path to a data file/folder/zip.")]
PathOpt = Annotated[str | None, typer.Option("--path", help="Local zip/folder/file for --dataset.")]
TmdbOpt = Annotated[str | None, typer.Option("--tmdb-path", help="TMDB 5000 movies csv/zip: join plot overviews "
                    "and runtimes via links.csv.")]
DownloadOpt = Annotated[bool, typer.Option("--download", help="Download a MovieLens set from GroupLens (checksum "
                        "verified) when no --path is given.")]
UserCol = Annotated[str | None, typer.Option("--user-col", help="csv/parquet: user id column (default: 'user').")]
ItemCol = Annotated[str | None, typer.Option("--item-col", help="csv/parquet: item id column (default: 'item').")]
ItemsFile = Annotated[str | None, typer.Option("--items-file", help="csv/parquet: item metadata file joined on "
                      "the item id (columns set by --title-col / --genres-col).")]
TitleCol = Annotated[str | None, typer.Option("--title-col", help="csv/parquet: title column of --items-file.")]
GenresCol = Annotated[str | None, typer.Option("--genres-col", help="csv/parquet: '|'-separated genres column "
                      "of --items-file.")]
RatingCol = Annotated[str | None, typer.Option("--rating-col", help="csv/parquet: rating column (optional).")]
TimeCol = Annotated[str | None, typer.Option("--timestamp-col", help="csv/parquet: timestamp column (optional).")]
SepOpt = Annotated[str | None, typer.Option("--sep", help="csv: field separator (default: detect).")]
RatingScaleOpt = Annotated[str | None, typer.Option("--rating-scale", help="csv/parquet: the scale the file's "
                           "ratings live on, LOW:HIGH[:STEP] (default 0.5:5:0.5); a rating off it is a bad row.")]
SkipBadRowsOpt = Annotated[bool, typer.Option("--skip-bad-rows", help="Leave out bad rows (and report them, file "
                           "and line) instead of failing on the first one.")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="State directory holding cinesync.db and models/ "
                    "(default: $CINESYNC_HOME or ~/.cinesync).")]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL, e.g. sqlite:///path.db or "
                  "postgresql://user@host/db (default: $CINESYNC_DATABASE_URL or sqlite:///HOME/cinesync.db).")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


def setup_logging(verbose: bool = False, level: str | None = None) -> None:
    """Log lines on standard error (rich); ``level`` overrides the --verbose choice (debug/info/...)."""
    from rich.logging import RichHandler

    lvl = (level or ("debug" if verbose else "info")).upper()
    logging.basicConfig(level=lvl, format="%(message)s", datefmt="[%X]",
                        handlers=[RichHandler(console=err_console, show_path=False)], force=True)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def fail(message: str) -> typer.Exit:
    """Print one 'error:' line on standard error; returns the exit (code 2) to raise."""
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(2)


@contextmanager
def expected_errors() -> Iterator[None]:
    """Expected failures (``CineSyncError``, a missing file, a missing optional dependency) -> one
    'error:' line on standard error and exit code 2, never a traceback."""
    try:
        yield
    except CineSyncError as e:
        raise fail(str(e)) from None
    except FileNotFoundError as e:
        raise fail(f"file not found: {e.filename or e}") from None
    except ImportError as e:
        converted = from_import_error(e, "this command")
        if converted is e:
            raise
        raise fail(str(converted)) from None


# ---- parsers ----------------------------------------------------------------------------------------
def parse_value(raw: str) -> Any:
    """A --set value: JSON when it parses (numbers, true/false, null, lists), else the plain string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def parse_params(values: list[str], flag: str = "--set") -> dict[str, Any]:
    """``PARAM=VALUE`` items -> {param: value}."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{flag} expects PARAM=VALUE, got {item!r}")
        out[key.strip()] = parse_value(raw)
    return out


def parse_model_params(values: list[str], models: list[str], flag: str = "--set",
                       among: str = "--models") -> dict[str, dict[str, Any]]:
    """``MODEL.PARAM=VALUE`` items -> {model: {param: value}}, every model one of ``models``; each model's
    config is validated here, so a typo fails before anything trains."""
    from cinesync.models.registry import model_class

    out: dict[str, dict[str, Any]] = {}
    for item in values:
        key, sep, _ = item.partition("=")
        model, dot, param = key.partition(".")
        if not sep or not dot or not param:
            raise typer.BadParameter(f"{flag} expects MODEL.PARAM=VALUE, got {item!r}")
        if model not in models:
            raise typer.BadParameter(f"{flag} {item!r}: model {model!r} is not in {among} ({', '.join(models)})")
        out.setdefault(model, {}).update(parse_params([item[len(model) + 1:]], flag))
    for model, config in out.items():
        try:
            model_class(model)(config)
        except CineSyncError as e:
            raise typer.BadParameter(f"{flag}: {e}") from None
    return out


def parse_ks(k: str) -> list[int]:
    """``10,20`` -> [10, 20] (sorted, distinct, positive)."""
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
    except ValueError:
        raise typer.BadParameter(f"--k must be comma-separated positive integers, got {k!r}") from None
    if not ks or ks[0] <= 0:
        raise typer.BadParameter(f"--k must be comma-separated positive integers, got {k!r}")
    return ks


def parse_device(device: str) -> str:
    """cpu | cuda | auto (cuda when present)."""
    if device not in ("cpu", "cuda", "auto"):
        raise typer.BadParameter(f"--device must be cpu, cuda or auto, got {device!r}")
    if device == "auto":
        try:
            import torch
        except ImportError:
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def parse_models(models: str) -> list[str]:
    """Comma-separated model names, a group ("classical", "neural", ...) or "all" (classical + neural +
    content); every name is checked against the registry."""
    from cinesync.models.registry import FAMILIES, available, by_family, model_class

    if models == "all":
        return by_family("classical", "neural", "content")
    if models in FAMILIES:
        return by_family(models)
    names = [m.strip().lower() for m in models.split(",") if m.strip()]
    for n in names:
        if n not in available():
            model_class(n)  # raises ConfigError naming the unknown model and the available ones
    return names


def threads_from_env() -> int | None:
    """torch threads for training: $CINESYNC_THREADS, else $OMP_NUM_THREADS, else None (every core)."""
    for var in ("CINESYNC_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def shared_data(*parts: str) -> Path | None:
    """A file of the shared data folder next to the checkout, or None when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    return path if path.exists() else None


def load_data(dataset: str, path: str | None, tmdb_path: str | None = None, download: bool = False,
              bad_rows: str = "error", report: list | None = None, **column_flags: str | None) -> Any:
    """Load a data set; column flags (user/item/rating/timestamp/sep/items_path/title/genres/rating_scale)
    only for tables. ``bad_rows`` / ``report``: see ``load_dataset``."""
    from cinesync.data.loaders import ColumnMap, load_dataset

    given = {k: v for k, v in column_flags.items() if v is not None}
    columns = ColumnMap(**given) if given else None
    return load_dataset(dataset, path, tmdb_path=tmdb_path, columns=columns, download=download,
                        bad_rows=bad_rows, report=report)
