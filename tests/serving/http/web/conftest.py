"""Fixtures for the end-to-end browser tests: a real CineSync server on a real (small) catalogue, and
headless Chromium driven by Playwright.

The store is built once per session in a temporary CINESYNC_HOME: MovieLens latest-small (bundled,
with TMDB plot summaries when the shared copy is present) plus a slice of the MyAnimeList sample
(its TV series and films, ids prefixed "anime-", ratings 1-10 halved to the 0.5-5 scale) so the
catalogue really mixes movies and TV; then EASE is trained and the app is served by uvicorn on a
free 127.0.0.1 port in a background thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cinesync.data.dataset import Interactions
from cinesync.data.loaders import load_dataset
from cinesync.serving.lifecycle import train_from_store
from cinesync.serving.settings import Settings, sqlite_url
from cinesync.store.db import make_engine, migrate, session_factory
from cinesync.store.importer import import_dataset
from tests.helpers import SHARED_DATA, free_port

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SHARED = SHARED_DATA
TMDB = SHARED / "tmdb-5000" / "tmdb_5000_movies.csv.zip"
ANIME = SHARED / "anime-5k" / "anime.zip"
#: the anime slice: this many most-rated TV series and films, rated by this many most active users
ANIME_TV, ANIME_MOVIES, ANIME_USERS = 300, 60, 300


def anime_slice(path: Path = ANIME) -> Interactions:
    """Most-rated anime TV series + films and their most active raters, ids prefixed, ratings halved."""
    data = load_dataset("anime", path)
    df = data.to_frame()
    cat = data.catalog.frame
    counts = df["item"].value_counts()
    keep: list[str] = []
    for domain, n in (("tv", ANIME_TV), ("movie", ANIME_MOVIES)):
        ids = set(cat.loc[cat["domain"] == domain, "item_id"].astype(str))
        keep += [i for i in counts.index if i in ids][:n]
    df = df[df["item"].isin(keep)]
    users = df["user"].value_counts().index[:ANIME_USERS]
    df = df[df["user"].isin(users)].copy()
    df["user"] = "anime-u" + df["user"].astype(str)
    df["item"] = "anime-" + df["item"].astype(str)
    df["rating"] = (df["rating"] / 2.0).clip(0.5, 5.0)
    cat = cat[cat["item_id"].astype(str).isin(keep)].copy()
    cat["item_id"] = "anime-" + cat["item_id"].astype(str)
    return Interactions.from_frame(df, catalog=cat, name="anime-slice")


def build_home(home: Path) -> Settings:
    """A CINESYNC_HOME with the mixed catalogue imported and an EASE version promoted."""
    settings = Settings(home=home, database_url=sqlite_url(home / "cinesync.db"))
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = session_factory(engine)
    ml = load_dataset("ml-latest-small", tmdb_path=TMDB if TMDB.exists() else None)
    import_dataset(sessions, ml, "ml", progress=False)
    if ANIME.exists():
        import_dataset(sessions, anime_slice(), "anime", progress=False)
    train_from_store(sessions, home, "ease", evaluate=False, progress=False)
    engine.dispose()
    return settings


@pytest.fixture(scope="session")
def has_tv() -> bool:
    """Whether the catalogue holds TV titles (the shared anime sample is present)."""
    return ANIME.exists()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running CineSync server (built once per session)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run the browser tests")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    import uvicorn

    from cinesync.serving.http.app import create_app

    t0 = time.perf_counter()
    settings = build_home(tmp_path_factory.mktemp("cinesync-home"))
    app = create_app(settings)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, name="cinesync-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the CineSync test server did not start")
        time.sleep(0.05)
    log.info("test server on port %d ready in %.1fs", port, time.perf_counter() - t0)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="session")
def browser(server: str) -> Iterator[object]:
    """One headless Chromium for the session (Debian's build; Playwright's download is not used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:
    """A fresh page (own localStorage, so no profiles) at 1440x1000; console errors fail the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=server, device_scale_factor=1)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    yield pg
    context.close()
    assert not errors, errors


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """save(page, name): a PNG in a pytest temp dir, and in $CINESYNC_SCREENSHOTS when that is set."""
    out = tmp_path_factory.mktemp("screenshots")
    extra = os.environ.get("CINESYNC_SCREENSHOTS")
    extra_dir = None
    if extra:
        extra_dir = Path(extra) if Path(extra).is_absolute() else Path(request.config.rootpath) / extra
        extra_dir.mkdir(parents=True, exist_ok=True)

    def save(pg, name: str, full_page: bool = False) -> Path:
        path = out / name
        pg.screenshot(path=str(path), full_page=full_page)
        if extra_dir is not None:
            pg.screenshot(path=str(extra_dir / name), full_page=full_page)
        return path

    return save


