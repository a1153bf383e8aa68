"""Real data (bundled ml-latest-small + the shared TMDB overviews): texts, and the new-item target (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinesync.content import item_texts
from cinesync.data.loaders import load_dataset
from cinesync.experiments.coldstart import run_new_items

TMDB = Path(__file__).resolve().parents[3] / "shared" / "data" / "tmdb-5000" / "tmdb_5000_movies.csv.zip"
pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not TMDB.is_file(), reason=f"TMDB overviews not found at {TMDB}")]


@pytest.fixture(scope="module")
def data():
    return load_dataset("ml-latest-small", tmdb_path=TMDB)


def test_texts_carry_tmdb_overviews(data) -> None:
    texts = item_texts(data.catalog)
    assert len(texts) == data.n_items == 9742
    overview = data.catalog.column("overview")
    assert int((overview != "").sum()) == 3537
    i = int(np.flatnonzero(data.catalog.column("title") == "Toy Story")[0])
    assert texts[i].startswith("Toy Story. Genres: Adventure, Animation") and overview[i] in texts[i]


@pytest.mark.slow
def test_content_beats_random_five_fold_on_new_items(data, tmp_path) -> None:
    """Title + genres only (the field set validation picks), encoded into a fresh cache: ~2 min on one core."""
    res = run_new_items(data, seed=0, cache_dir=str(tmp_path), field_sets=[("title", "genres")])
    assert res["counts"]["items_held_out"] == 972
    assert res["content_vs_random"] >= 5.0
    r = res["results"]
    assert r["pop"]["recall@20"]["mean"] < 2 * r["random (exact)"]["recall@20"]["mean"]
