"""The ``cinesync`` command: assembles the command groups and turns expected failures into one line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from cinesync.cli import bot, content, crossdomain, ensemble, evaluate, fusion, serve, store
from cinesync.cli.common import err_console
from cinesync.errors import CineSyncError
from cinesync.extras import from_import_error
from cinesync.version import __version__

app = typer.Typer(help="CineSync: movie & TV recommendations — data, models, evaluation, the service.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Inspect data sets and write splits.", no_args_is_help=True)
models_app = typer.Typer(help="The model zoo and the trained model versions.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")


def _version(value: bool) -> None:
    if value:
        print(f"cinesync {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """CineSync: movie & TV recommendations — data, models, evaluation, the service."""


evaluate.install(app, data_app, models_app)
store.install(app, models_app)
serve.install(app)
bot.install(app)
ensemble.install(app)
content.install(app)
fusion.install(app)
crossdomain.install(app)


def main() -> None:
    """Entry point: friendly one-line errors for expected failures, exit code 2."""
    try:
        app()
    except CineSyncError as e:
        _fail(str(e))
    except FileNotFoundError as e:
        _fail(f"file not found: {e.filename or e}")
    except ImportError as e:
        converted = from_import_error(e, "this command")
        if converted is e:
            raise
        _fail(str(converted))


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    sys.exit(2)
