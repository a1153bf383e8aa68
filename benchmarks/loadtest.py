"""Load test of a running service: open-loop HTTP load and latency percentiles (``benchmarks.bench_serve``).

Open loop: request i is *scheduled* at ``start + i / rate`` whatever happened to earlier ones,
and its latency is measured from that scheduled time, so a slow server cannot hide its queueing
by slowing the client down (no coordinated omission). The run is bounded: ``rate * duration``
requests, each with a timeout, and the whole run with a deadline.

``ServerProcess`` starts ``cinesync serve`` on a loopback port in a subprocess and waits for
/readyz; ``prepare_users`` signs up users and rates a few well-known titles for each.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class LoadResult:
    """Outcome of one open-loop run. latencies_ms: (n_ok,) from scheduled start to response."""

    target_rate: float
    duration_s: float
    sent: int
    ok: int
    errors: dict[str, int]
    latencies_ms: np.ndarray
    elapsed_s: float
    max_send_lag_ms: float
    cache: dict[str, int] = field(default_factory=dict)

    @property
    def n_errors(self) -> int:
        return int(sum(self.errors.values()))

    @property
    def throughput(self) -> float:
        """Successful responses per second over the run."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentiles(self) -> dict[str, float]:
        """p50 / p95 / p99 / max latency in ms (NaN without successful requests)."""
        if len(self.latencies_ms) == 0:
            return {k: float("nan") for k in ("p50", "p95", "p99", "max")}
        p = np.percentile(self.latencies_ms, [50, 95, 99])
        return {"p50": float(p[0]), "p95": float(p[1]), "p99": float(p[2]), "max": float(self.latencies_ms.max())}


class _Conn:
    """One keep-alive HTTP/1.1 connection (a minimal client: GET, Content-Length bodies)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise ConnectionError("response without Content-Length (chunked bodies are not supported)")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return status, headers, body

    def close(self) -> None:
        self.writer.close()


class RawPool:
    """At most ``size`` keep-alive connections to host:port, reused LIFO.

    Why not httpx: its per-request CPU cost (~1 ms) would make the load generator, which shares
    the machine with the server, the bottleneck at a few hundred requests per second.
    """

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self.idle: list[_Conn] = []
        self.slots = asyncio.Semaphore(size)

    async def get(self, request: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
        async with self.slots:
            while self.idle and self.idle[-1].reader.at_eof():  # closed by the server while idle
                self.idle.pop().close()
            reused = bool(self.idle)
            conn = self.idle.pop() if reused else await self._open()
            try:
                out = await asyncio.wait_for(conn.get(request), timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                conn.close()
                if not reused:
                    raise
                # the server closed the idle connection as we sent: retry once on a fresh one (GETs are idempotent)
                conn = await self._open()
                try:
                    out = await asyncio.wait_for(conn.get(request), timeout)
                except BaseException:
                    conn.close()
                    raise
            except BaseException:
                conn.close()  # a failed or cancelled exchange leaves the connection in an unknown state
                raise
            if out[1].get("connection", "").lower() == "close":
                conn.close()
            else:
                self.idle.append(conn)
            return out

    async def _open(self) -> _Conn:
        return _Conn(*await asyncio.open_connection(self.host, self.port))

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


def _request_bytes(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def open_loop(base_url: str, requests: list[tuple[str, dict[str, str]]], rate: float, duration: float,
                    timeout: float = 10.0, max_connections: int = 64) -> LoadResult:
    """GET ``requests`` (path, headers) round-robin at ``rate`` per second for ``duration`` seconds."""
    if rate <= 0 or duration <= 0 or not requests:
        raise ValueError(f"open_loop needs rate > 0, duration > 0 and requests, got {rate}, {duration}, "
                         f"{len(requests)} requests")
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    raw = [_request_bytes(host, port, path, headers) for path, headers in requests]
    n = max(int(round(rate * duration)), 1)
    lat = np.full(n, np.nan)
    errors: dict[str, int] = {}
    cache: dict[str, int] = {}
    done_at = [0.0]
    max_lag = [0.0]
    pool = RawPool(host, port, max_connections)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int, scheduled: float) -> None:
        max_lag[0] = max(max_lag[0], loop.time() - scheduled)
        try:
            status, headers, _ = await pool.get(raw[i % len(raw)], timeout)
        except Exception as e:  # noqa: BLE001 - every failure is counted by kind
            kind = "timeout" if isinstance(e, asyncio.TimeoutError) else type(e).__name__
            errors[kind] = errors.get(kind, 0) + 1
            return
        finally:
            done_at[0] = max(done_at[0], loop.time())
        if status != 200:
            errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
            return
        state = headers.get("x-cache", "n/a")
        cache[state] = cache.get(state, 0) + 1
        lat[i] = (loop.time() - scheduled) * 1000.0

    tasks = []
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    _, pending = await asyncio.wait(tasks, timeout=timeout + 5.0)
    for t in pending:
        t.cancel()
        errors["unfinished"] = errors.get("unfinished", 0) + 1
    pool.close()
    ok = lat[~np.isnan(lat)]
    return LoadResult(rate, duration, n, len(ok), errors, ok, max(done_at[0] - start, 1e-9), max_lag[0] * 1000.0,
                      cache)


class ServerProcess:
    """``cinesync serve`` in a subprocess on loopback; output goes to ``log_path``.

    Use as a context manager: starts, waits for /readyz (first start on an empty database
    imports and trains first, so the wait can be long), stops on exit.
    """

    def __init__(self, home: Path, port: int | None = None, database_url: str | None = None,
                 extra_args: tuple[str, ...] = (), startup_timeout: float = 900.0,
                 env: dict[str, str] | None = None) -> None:
        self.home = Path(home)
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log_path = self.home / "bench-server.log"
        args = ["serve", "--host", LOOPBACK, "--port", str(self.port), "--home", str(self.home)]
        if database_url:
            args += ["--database-url", database_url]
        self.cmd = [sys.executable, "-c", "from cinesync.cli.main import main; main()", *args, *extra_args]
        self.startup_timeout = startup_timeout
        self.env = env
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> ServerProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w", encoding="utf-8")
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        log.info("starting %s", " ".join(self.cmd[3:]))
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.wait_ready()
        return self

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"server not ready after {self.startup_timeout:.0f}s:\n{self.log_tail()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def prepare_users(base_url: str, n_users: int, ratings_each: int = 10, seed: int = 0,
                  k: int = 10) -> list[tuple[str, dict[str, str]]]:
    """Sign up ``n_users`` users, each rating ``ratings_each`` of the 50 onboarding titles;
    returns (recommendations path, auth headers) per user."""
    rng = random.Random(seed)
    out = []
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        r = client.get("/v1/onboarding", params={"k": 50})
        r.raise_for_status()
        pool = [it["item_id"] for it in r.json()["items"]]
        for u in range(n_users):
            r = client.post("/v1/users", json={"display_name": f"bench {u}"})
            r.raise_for_status()
            uid, token = r.json()["user_id"], r.json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            for item in rng.sample(pool, min(ratings_each, len(pool))):
                client.post(f"/v1/users/{uid}/ratings", json={"item_id": item, "rating": rng.choice([3.5, 4, 4.5, 5])},
                            headers=headers).raise_for_status()
            out.append((f"/v1/users/{uid}/recommendations?k={k}", headers))
    return out


def warm(base_url: str, requests: list[tuple[str, dict[str, str]]]) -> None:
    """One GET per request (fills caches, loads code paths) before measuring."""
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for path, headers in requests:
            client.get(path, headers=headers).raise_for_status()
