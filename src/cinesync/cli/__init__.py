"""The ``cinesync`` command line: ``common`` (consoles, logging, shared options, errors) and one module
per command group; ``main`` assembles them. The only layer that reads argv and the environment."""

from cinesync.cli.main import app, main

__all__ = ["app", "main"]
