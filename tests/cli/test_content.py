"""`cinesync embed` and `cinesync coldstart`: --help, and end-to-end runs on a tiny MovieLens-layout folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cinesync.cli.main import app

runner = CliRunner()
THEMES = [("Sci-Fi", "An astronaut explores a distant planet and meets aliens"),
          ("Romance", "Two strangers fall in love during a summer wedding"),
          ("Horror", "A family is haunted by a ghost in their new house"),
          ("Animation", "A talking animal goes on a magical cartoon adventure")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """(MovieLens csv folder, TMDB csv): 40 movies in 4 themes, 48 users who mostly rate one theme."""
    root = tmp_path_factory.mktemp("tiny")
    ml = root / "ml-tiny"
    ml.mkdir()
    n_items = 40
    movies = pd.DataFrame({"movieId": np.arange(1, n_items + 1),
                           "title": [f"{THEMES[i % 4][0]} Story {i} (20{i % 20:02d})" for i in range(n_items)],
                           "genres": [THEMES[i % 4][0] for i in range(n_items)]})
    movies.to_csv(ml / "movies.csv", index=False)
    pd.DataFrame({"movieId": movies["movieId"], "imdbId": movies["movieId"] + 1000,
                  "tmdbId": movies["movieId"] + 5000}).to_csv(ml / "links.csv", index=False)
    rng = np.random.default_rng(0)
    rows = []
    for u in range(48):
        own = np.arange(u % 4, n_items, 4)
        items = list(rng.choice(own, 9, replace=False)) + list(rng.choice(np.setdiff1d(np.arange(n_items), own), 7,
                                                                            replace=False))
        for t, i in enumerate(rng.permutation(items)):
            rows.append((u + 1, i + 1, 5.0 if i % 4 == u % 4 else 2.0, 1_500_000_000 + 1000 * u + t))
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(ml / "ratings.csv", index=False)
    tmdb = root / "tmdb.csv"
    pd.DataFrame({"id": movies["movieId"] + 5000, "overview": [f"{THEMES[i % 4][1]} (part {i})."
                                                               for i in range(n_items)],
                  "runtime": 90}).to_csv(tmdb, index=False)
    return ml, tmdb


@pytest.mark.parametrize("cmd", ["embed", "coldstart"])
def test_help(cmd: str) -> None:
    res = runner.invoke(app, [cmd, "--help"])
    assert res.exit_code == 0
    assert "--cache-dir" in res.output and "--tmdb-path" in res.output
    if cmd == "coldstart":
        assert "held out entirely" in res.output


def test_embed_then_cache_hit(tiny, tmp_path: Path) -> None:
    ml, tmdb = tiny
    args = ["embed", "--dataset", str(ml), "--tmdb-path", str(tmdb), "--cache-dir", str(tmp_path), "--no-progress"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "40 items (40 with an overview)" in res.output and "0 from the cache, 40 encoded" in res.output
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "40 from the cache, 0 encoded" in res.output


def test_embed_errors(tiny, tmp_path: Path) -> None:
    ml, _ = tiny
    res = runner.invoke(app, ["embed", "--dataset", str(ml), "--tmdb-path", str(tmp_path / "none.csv")])
    assert res.exit_code == 2 and "no such file" in res.output
    res = runner.invoke(app, ["embed", "--dataset", str(ml), "--no-tmdb", "--cache-dir", str(tmp_path),
                              "--model-path", str(tmp_path / "no-model")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_coldstart_runs_both_protocols(tiny, tmp_path: Path) -> None:
    ml, tmdb = tiny
    out = tmp_path / "cold.json"
    res = runner.invoke(app, ["coldstart", "--dataset", str(ml), "--tmdb-path", str(tmdb), "--cache-dir",
                              str(tmp_path / "cache"), "--field-set", "title,genres,overview", "--json", str(out),
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "New items" in res.output and "light test users" in res.output
    got = json.loads(out.read_text())
    new = got["new_items"]
    assert new["counts"]["items_held_out"] == 4
    assert set(new["results"]) >= {"content", "pop", "ease", "hybrid", "random (exact)", "random (seeded draw)"}
    assert new["results"]["content"]["recall@20"]["mean"] == pytest.approx(1.0)  # 4 candidates < 20
    assert len(new["validation"]) == 24  # 3 weightings x 2 half-lives x 4 prior weights
    light = got["light_users"]
    assert set(light["results"]["content"]) == {"light", "regular", "all"}
    assert light["chosen"]["hybrid"]["curve"] in ("saturating", "logistic")
    themed = light["results"]["content"]["light"]["ndcg@10"]["mean"]
    assert themed > 1.5 * light["results"]["random (exact)"]["light"]["ndcg@10"]["mean"]
