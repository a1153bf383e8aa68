"""The ``cinesync`` command as a whole: --version, the command list, one-line errors."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from cinesync.cli.main import app
from cinesync.version import __version__


def test_version() -> None:
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"cinesync {__version__}"


def test_help_lists_every_command_group() -> None:
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0
    for command in ("evaluate", "data", "models", "import", "train", "serve", "bot", "ensemble", "embed",
                    "coldstart", "ablation-fusion", "crossdomain"):
        assert command in r.output


def test_expected_errors_are_one_line_with_exit_code_2(tmp_path) -> None:
    """Through the real entry point: a missing file and an unknown model give one 'error:' line."""
    missing = subprocess.run([sys.executable, "-m", "cinesync.cli", "data", "show", str(tmp_path / "nope.csv")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    unknown = subprocess.run([sys.executable, "-m", "cinesync.cli", "evaluate", "--models", "nope"],
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "unknown model 'nope'" in unknown.stderr
    assert unknown.stderr.count("\n") == 1 and "Traceback" not in unknown.stderr
