"""`cinesync crossdomain` on a tiny file in the anime layout (fast), and on the real anime set (slow)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cinesync.cli.main import app
from tests.fixtures.domains import two_domain

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "anime-5k" / "anime.zip"
TYPE = {"movie": "Movie", "tv": "TV", "other": "OVA"}


def write_anime_zip(path: Path) -> Path:
    """The tiny two-domain data as anime.zip (anime_ratings.dat + anime_info.dat, tab-separated)."""
    data = two_domain()
    uid = np.asarray([int(u[1:]) for u in data.users.ids])
    iid = np.arange(data.n_items) + 1
    ratings = "User_ID\tAnime_ID\tFeedback\n" + "".join(
        f"{uid[u]}\t{iid[i]}\t{r:g}\n" for u, i, r in zip(data.user, data.item, data.rating, strict=True))
    info = "anime_ids\tname\tgenre\ttype\tepisodes\trating\tmembers\n" + "".join(
        f"{iid[i]}\t{data.items.ids[i]}\tAction\t{TYPE[d]}\t1\t7.0\t100\n"
        for i, d in enumerate(data.catalog.domain_codes))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("anime_ratings.dat", ratings)
        z.writestr("anime_info.dat", info)
    return path


def _run_tiny(tmp_path: Path, *extra: str) -> tuple[dict, str]:
    src = write_anime_zip(tmp_path / "anime.zip")
    out = tmp_path / "cd.json"
    res = CliRunner().invoke(app, ["crossdomain", "--path", str(src), "--n-test", "20", "--n-valid", "10",
                                   "--min-per-domain", "3", "--json", str(out), "--no-progress", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text()), res.output


def test_cli_movie_to_tv_on_a_tiny_file(tmp_path: Path) -> None:
    doc, output = _run_tiny(tmp_path, "--protocols", "movie-tv")
    assert list(doc["protocols"]) == ["movie-tv"]
    p = doc["protocols"]["movie-tv"]
    assert p["split"]["source"] == "movie" and p["split"]["target"] == "tv"
    assert p["models"]["emcdr"]["config"]["directions"] == "movie-tv"
    assert "emcdr vs" in output and "Wilcoxon p" in output


@pytest.mark.slow
def test_cli_runs_all_protocols_on_a_tiny_file(tmp_path: Path) -> None:
    doc, output = _run_tiny(tmp_path)
    res_output = output
    assert set(doc["protocols"]) == {"movie-tv", "tv-movie", "warm-tv"}
    for name, p in doc["protocols"].items():
        assert set(p["models"]) == {"pop", "ease", "als", "emcdr", "emcdr-latent"}
        assert p["split"]["test_users"] == 20 and p["split"]["valid_users"] == 10
        for m in p["models"].values():
            lo, hi = m["ndcg@10"]["ci95"]
            assert lo <= m["ndcg@10"]["mean"] <= hi
        assert p["comparison"]["best_joint"] in ("ease", "als")
        assert 0.0 <= p["comparison"]["ease"]["ndcg@10"]["wilcoxon_p"] <= 1.0
        assert f"{name}: test users" in res_output
    assert "p vs" in res_output


def test_cli_bad_arguments(tmp_path: Path) -> None:
    src = write_anime_zip(tmp_path / "anime.zip")
    res = CliRunner().invoke(app, ["crossdomain", "--path", str(src), "--protocols", "movie-books"])
    assert res.exit_code == 2 and "--protocols must be among" in res.output
    res = CliRunner().invoke(app, ["crossdomain", "--path", str(src), "--models", "pop,emcdr",
                                   "--min-per-domain", "3", "--n-test", "5", "--n-valid", "5"])
    assert res.exit_code == 2 and "include 'ease'" in res.output
    res = CliRunner().invoke(app, ["crossdomain", "--path", str(tmp_path / "missing.zip")])
    assert res.exit_code == 2


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not REAL.exists(), reason=f"{REAL} not present")
def test_real_anime_overlap_and_movie_to_tv(tmp_path: Path) -> None:
    from cinesync.data.crossdomain import cold_start_split
    from cinesync.data.loaders import load_anime

    data = load_anime(REAL)
    dom = data.catalog.domain_codes[data.item]
    per = {d: np.bincount(data.user[dom == d], minlength=data.n_users) for d in ("movie", "tv")}
    assert ((per["movie"] > 0) & (per["tv"] > 0)).sum() == 3421  # the data README's figure
    assert ((per["movie"] >= 5) & (per["tv"] >= 5)).sum() == 2267
    cds = cold_start_split(data, n_test=200, n_valid=100)
    train_dom = data.catalog.domain_codes[cds.split.train.item]
    assert not ((train_dom == "tv") & np.isin(cds.split.train.user, cds.test_users)).any()
    out = tmp_path / "cd.json"
    res = CliRunner().invoke(app, ["crossdomain", "--path", str(REAL), "--protocols", "movie-tv", "--models",
                                   "pop,ease,emcdr", "--n-test", "200", "--n-valid", "100", "--json", str(out),
                                   "--no-progress"])
    assert res.exit_code == 0, res.output
    models = json.loads(out.read_text())["protocols"]["movie-tv"]["models"]
    assert models["ease"]["ndcg@10"]["mean"] > models["pop"]["ndcg@10"]["mean"]
    assert models["emcdr"]["ndcg@10"]["mean"] > models["pop"]["ndcg@10"]["mean"]
