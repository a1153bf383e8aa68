"""``python -m cinesync.cli``: the same as the ``cinesync`` command."""

from cinesync.cli.main import main

main()
