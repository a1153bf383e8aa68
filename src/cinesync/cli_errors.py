"""The commands' one way to report expected failures: an 'error:' line on stderr, exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from cinesync.errors import CineSyncError

err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def expected_errors() -> Iterator[None]:
    """Expected failures (``CineSyncError``, a missing file) -> one 'error:' line on stderr and exit
    code 2, never a traceback."""
    try:
        yield
    except CineSyncError as e:
        err_console.print(f"[red]error:[/red] {e}", highlight=False)
        raise typer.Exit(2) from None
    except FileNotFoundError as e:
        err_console.print(f"[red]error:[/red] file not found: {e.filename or e}", highlight=False)
        raise typer.Exit(2) from None
