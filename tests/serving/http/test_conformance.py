"""The API does what its OpenAPI document says: schemathesis, every check on, against a live server.

``cinesync serve`` runs in a child process on a loopback port over a small planted store. The
schemathesis command line then tests every operation with all its phases (examples, coverage,
fuzzing, stateful sequences) and ``--checks all``: no 5xx, documented status codes, headers and
bodies, schema-valid requests accepted, schema-invalid ones rejected, created resources reachable,
``Allow`` headers exact, authentication enforced. Once with a user's token on the user-facing
paths, once with the admin token on everything (admin can act on any user). Zero findings.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

from .conftest import seed_store

pytestmark = pytest.mark.slow
SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
ADMIN_TOKEN = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(base URL, the demo user's token, a work folder) of a server in a child process."""
    if SCHEMATHESIS is None:
        pytest.skip("the schemathesis command is not installed (pip install -e '.[dev]')")
    home = tmp_path_factory.mktemp("conformance")
    seed_store(f"sqlite:///{home / 'cinesync.db'}", home)
    port = free_port()
    env = {**os.environ, "CINESYNC_HOME": str(home), "CINESYNC_ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("CINESYNC_DATABASE_URL", None)
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "cinesync.cli", "serve", "--port", str(port), "--log-level",
                             "warning"], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"the server did not become ready: {(home / 'serve.log').read_text()[-2000:]}")
        token = re.search(r"demo user: demo\s+token: (\S+)", (home / "serve.log").read_text())
        assert token, (home / "serve.log").read_text()
        yield url, token.group(1), home
    finally:
        proc.kill()
        proc.wait(10)
        log.close()


def schemathesis(url: str, token: str, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (work / "schemathesis.toml").write_text('[parameters]\nuser_id = "demo"\n')
    return subprocess.run([SCHEMATHESIS, "--no-color", "run", f"{url}/openapi.json", "--checks", "all",
                           "-H", f"Authorization: Bearer {token}", "--seed", "1", "--max-examples", "25",
                           "--request-timeout", "10", *args],
                          cwd=work, capture_output=True, text=True, timeout=600)


def test_user_paths_conform_with_every_check(live: tuple[str, str, Path]) -> None:
    url, token, work = live
    run = schemathesis(url, token, work, "--exclude-path-regex", "^/v1/admin")
    assert run.returncode == 0 and "No issues found" in run.stdout, run.stdout[-6000:]
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert tested and int(tested.group(1)) >= 20, run.stdout[-2000:]


def test_every_path_conforms_for_the_admin(live: tuple[str, str, Path]) -> None:
    url, _, work = live
    run = schemathesis(url, ADMIN_TOKEN, work)
    # (a warning remains: /v1/users/me is 404 for the environment admin token, which belongs to no user)
    assert run.returncode == 0 and "Failures:" not in run.stdout and "Errors:" not in run.stdout, run.stdout[-6000:]
    assert re.search(r"(\d+) generated, \1 passed", run.stdout), run.stdout[-2000:]
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert tested and int(tested.group(1)) >= 30, run.stdout[-2000:]
