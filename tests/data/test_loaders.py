"""Loaders on the real bundled/shared data and on tiny fake MovieLens layouts written to tmp_path."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cinesync.data.dataset import Interactions
from cinesync.data.loaders import DATASETS, ColumnMap, load_dataset, load_movielens
from cinesync.data.loaders.movielens import split_titles
from cinesync.data.loaders.tabular import build_interactions
from cinesync.errors import DataError
from tests.helpers import SHARED_DATA

SHARED = SHARED_DATA
ANIME = SHARED / "anime-5k" / "anime.zip"
TMDB = SHARED / "tmdb-5000" / "tmdb_5000_movies.csv.zip"


def write_files(root: Path, files: dict[str, bytes | str]) -> Path:
    """Write ``files`` (relative path -> content; str is UTF-8) under ``root``."""
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def zip_files(path: Path, files: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, content in files.items():
            zf.writestr(rel, content.encode() if isinstance(content, str) else content)
    return path


# ---- fake releases: a few lines each, in each release's real format ------------------------------
GENRE_LIST = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
              "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
              "War", "Western"]


def _flags(*names: str) -> str:
    return "|".join("1" if g in names else "0" for g in GENRE_LIST)


ML100K = {
    "ml-100k/u.data": "1\t10\t4\t881250949\n2\t20\t3\t891717742\n1\t20\t5\t881250949\n",
    "ml-100k/u.item": (f"10|Café Society (1995)|01-Jan-1995||http://x|{_flags('Comedy', 'Drama')}\n"
                       f"20|Über Mystery|01-Jan-1994||http://y|{_flags('unknown')}\n"
                       f"30|Unrated (1990)|01-Jan-1990||http://z|{_flags('Action')}\n").encode("latin-1"),
    "ml-100k/u.genre": "".join(f"{g}|{i}\n" for i, g in enumerate(GENRE_LIST)) + "\n",
}
ML1M = {
    "ml-1m/ratings.dat": "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
    "ml-1m/movies.dat": ("1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                         "661::Amélie: Le Fabuleux Destin (2001)::Comedy|Romance\n"
                         "5::Señor X (1999)::Comedy\n").encode("latin-1"),
    "ml-1m/users.dat": "1::F::1::10::48067\n",
}
ML10M = {
    "ml-10M100K/ratings.dat": "1::122::5::838985046\n1::185::4.5::838983525\n7::122::0.5::1049764950\n",
    "ml-10M100K/movies.dat": "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action|Crime\n",
    "ml-10M100K/tags.dat": "15::122::dark hero::1215184630\n20::122::dark hero::1215184631\n"
                           "20::122::a::b tag::1215184632\n",
}
ML20M = {
    "ml-20m/ratings.csv": "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n1,29,3.5,1112484676\n"
                          "3,2,4.0,1112484819\n",
    "ml-20m/movies.csv": 'movieId,title,genres\n2,Jumanji (1995),Adventure|Children|Fantasy\n'
                         '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Sci-Fi\n'
                         '40,Nothing (no year),(no genres listed)\n',
    "ml-20m/tags.csv": "userId,movieId,tag,timestamp\n18,2,Robin Williams,1240597180\n65,2, game ,1368150078\n"
                       "65,2,game,1368150079\n",
    "ml-20m/links.csv": "movieId,imdbId,tmdbId\n2,0113497,8844\n29,0112682,902\n40,0000001,\n",
    "ml-20m/genome-tags.csv": "tagId,tag\n1,007\n",
}


@pytest.mark.parametrize("form", ["zip", "folder", "parent"])
@pytest.mark.parametrize(("name", "files"), [("ml-100k", ML100K), ("ml-1m", ML1M), ("ml-10m", ML10M),
                                             ("ml-20m", ML20M)])
def test_fake_layouts_load_from_zip_folder_and_parent(tmp_path: Path, name: str, files: dict, form: str) -> None:
    if form == "zip":
        path = zip_files(tmp_path / f"{name}.zip", files)
    else:
        write_files(tmp_path, files)
        path = tmp_path if form == "parent" else tmp_path / next(iter(files)).split("/")[0]
    by_name = load_dataset(name, path)
    detected = load_movielens(path)
    assert by_name.name == name and detected.name == name
    assert by_name.checksum() == detected.checksum()
    assert len(by_name) == 3
    assert by_name.rating.dtype == np.float32 and by_name.timestamp.dtype == np.int64
    assert set(by_name.catalog.domain_codes) == {"movie"}


def test_fake_100k_values(tmp_path: Path) -> None:
    d = load_dataset("ml-100k", zip_files(tmp_path / "x.zip", ML100K))
    assert d.to_frame().values.tolist() == [["1", "10", 4.0, 881250949], ["2", "20", 3.0, 891717742],
                                            ["1", "20", 5.0, 881250949]]
    cat = d.catalog.frame.set_index("item_id")
    assert cat.loc["10", "title"] == "Café Society" and cat.loc["10", "year"] == 1995
    assert cat.loc["10", "genres"] == ("Comedy", "Drama")
    assert cat.loc["20", "title"] == "Über Mystery" and cat.loc["20", "year"] == 1994  # year from release date
    assert cat.loc["20", "genres"] == ()  # "unknown" flag = no genre
    assert d.n_items == 3 and cat.loc["30", "title"] == "Unrated"  # catalogue-only item kept


def test_fake_1m_latin1_titles_and_order(tmp_path: Path) -> None:
    d = load_dataset("ml-1m", write_files(tmp_path, ML1M))
    assert d.items.ids.tolist() == ["1193", "661", "5"]
    cat = d.catalog.frame.set_index("item_id")
    assert cat.loc["661", "title"] == "Amélie: Le Fabuleux Destin" and cat.loc["661", "year"] == 2001
    assert cat.loc["5", "title"] == "Señor X"
    assert d.users.ids.tolist() == ["1", "2"] and d.rating.tolist() == [5.0, 3.0, 4.0]


def test_fake_10m_tags_and_half_stars(tmp_path: Path) -> None:
    d = load_dataset("ml-10m", zip_files(tmp_path / "ml-10m.zip", ML10M))
    assert d.rating.tolist() == [5.0, 4.5, 0.5]
    cat = d.catalog.frame.set_index("item_id")
    assert cat.loc["122", "tags"] == ("dark hero", "a::b tag")
    assert cat.loc["185", "title"] == "Net, The" and cat.loc["185", "genres"] == ("Action", "Crime")


def test_fake_20m_csv_layout_details(tmp_path: Path) -> None:
    d = load_dataset(str(zip_files(tmp_path / "ml-20m.zip", ML20M)))  # a path as name: detected
    assert d.name == "ml-20m"
    cat = d.catalog.frame.set_index("item_id")
    assert cat.loc["29", "title"] == "City of Lost Children, The (Cité des enfants perdus, La)"
    assert cat.loc["40", "genres"] == () and pd.isna(cat.loc["40", "year"])
    assert cat.loc["2", "tags"] == ("Robin Williams", "game")
    assert cat.loc["2", "imdb_id"] == "0113497" and cat.loc["2", "tmdb_id"] == 8844
    assert pd.isna(cat.loc["40", "tmdb_id"])


def test_split_titles_edge_cases() -> None:
    title, year = split_titles(pd.Series(["Heat (1995)", "Babylon 5", "Death Note (2006–2007)", " Trail (2008) ",
                                          "Assembly (Ji jie hao) (2007)", None]))
    assert title.tolist() == ["Heat", "Babylon 5", "Death Note", "Trail", "Assembly (Ji jie hao)", ""]
    assert year.tolist() == [1995, pd.NA, 2006, 2008, 2007, pd.NA]


def test_ties_in_time_keep_file_order(tmp_path: Path) -> None:
    files = {"ratings.csv": "userId,movieId,rating,timestamp\n1,5,3,100\n1,3,4,100\n1,4,4,50\n",
             "movies.csv": "movieId,title,genres\n3,A (2000),Drama\n"}
    d = load_movielens(write_files(tmp_path, files), "ml-latest")
    assert d.items.ids_of(d.histories().items) == ["4", "5", "3"]


def test_generic_csv_with_column_map_and_item_file(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "events.tsv": "who\twhat\tstars\twhen\nann\t007\t4.5\t2020-01-01T00:00:00Z\nbob\tx\t2\t2020-01-02\n",
        "items.csv": "id,name,kind,tags\n007,Dr. No,movie,Action|Spy\ny,Some Show,tv,\n",
    })
    cm = ColumnMap(user="who", item="what", rating="stars", timestamp="when", items_path=str(tmp_path / "items.csv"),
                   item_id="id", title="name", domain="kind", genres="tags")
    d = load_dataset("csv", tmp_path / "events.tsv", columns=cm)
    assert d.items.ids.tolist() == ["007", "x", "y"]  # ids kept exactly; catalogue-only "y" appended
    assert d.timestamp.tolist() == [1577836800, 1577923200]
    cat = d.catalog.frame.set_index("item_id")
    assert cat.loc["007", "genres"] == ("Action", "Spy") and cat.loc["y", "domain"] == "tv"
    assert cat.loc["x", "title"] == "x"


def test_generic_parquet_and_default_columns(tmp_path: Path) -> None:
    df = pd.DataFrame({"user": ["a", "b"], "item": ["1", "2"], "rating": [1.0, 5.0], "timestamp": [10, 20]})
    df.to_parquet(tmp_path / "x.parquet")
    d = load_dataset("parquet", tmp_path / "x.parquet")
    assert d.rating.tolist() == [1.0, 5.0] and d.timestamp.tolist() == [10, 20]
    df.drop(columns=["rating"]).to_csv(tmp_path / "x.csv", index=False)
    d = load_dataset(str(tmp_path / "x.csv"))
    assert d.rating is None and d.timestamp.tolist() == [10, 20]


def test_generic_separator_is_detected_unless_given(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("user;item;rating\na;1;4,5\nb;2;3\n")
    with pytest.raises(DataError, match="line 2: rating '4,5' is not a number"):
        load_dataset("csv", tmp_path / "x.csv")
    (tmp_path / "x.csv").write_text("user;item;rating\na;1;4.5\nb;2;3\n")
    assert load_dataset("csv", tmp_path / "x.csv").rating.tolist() == [4.5, 3.0]
    with pytest.raises(DataError, match="semicolon-separated, expected 3 tab-separated"):
        load_dataset("csv", tmp_path / "x.csv", columns=ColumnMap(rating="rating", sep="\t"))


def test_datasets_lists_every_name() -> None:
    for name in ["ml-latest-small", "ml-latest", "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m",
                 "anime", "csv", "parquet"]:
        assert name in DATASETS and DATASETS[name]


# ---- real data --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small() -> Interactions:
    return load_dataset()


@pytest.mark.realdata
def test_bundled_ml_latest_small_counts(small: Interactions) -> None:
    assert small.name == "ml-latest-small"
    assert len(small) == 100_836 and small.n_users == 610
    assert int((small.item_counts() > 0).sum()) == 9_724 and small.n_items == 9_742
    first = small.to_frame().iloc[0].tolist()
    assert first == ["1", "1", 4.0, 964982703]  # first line of ratings.csv
    cat = small.catalog.frame.set_index("item_id")
    assert cat.loc["1", "title"] == "Toy Story" and cat.loc["1", "year"] == 1995
    assert cat.loc["1", "genres"] == ("Adventure", "Animation", "Children", "Comedy", "Fantasy")
    assert cat.loc["60756", "tags"] == ("funny", "Highly quotable", "will ferrell", "comedy")
    assert cat.loc["1", "imdb_id"] == "0114709" and cat.loc["1", "tmdb_id"] == 862
    assert int(cat["year"].isna().sum()) == 12


@pytest.mark.realdata
def test_fast_builder_matches_from_frame(small: Interactions) -> None:
    cat = small.catalog.frame
    ref = Interactions.from_frame(small.to_frame(), catalog=cat, name=small.name)
    assert ref.checksum() == small.checksum()
    assert ref.items == small.items and ref.users == small.users
    pd.testing.assert_frame_equal(ref.catalog.frame, small.catalog.frame)
    fast = build_interactions(np.array([3, 1, 3]), np.array(["b", "a", "b"]), None, None,
                              pd.DataFrame({"item_id": ["c", "a"], "title": ["C", "A"]}), "t")
    assert fast.users.ids.tolist() == ["3", "1"] and fast.items.ids.tolist() == ["b", "a", "c"]
    assert fast.catalog.column("title").tolist() == ["b", "A", "C"]


@pytest.mark.realdata
def test_tmdb_overviews_join() -> None:
    if not TMDB.exists():
        pytest.skip("shared TMDB data not available")
    d = load_dataset(tmdb_path=TMDB)
    cat = d.catalog.frame
    assert int((cat["overview"] != "").sum()) == 3_537
    assert int(cat["runtime"].notna().sum()) == 3_537
    assert cat.set_index("item_id").loc["1", "runtime"] == 81.0


@pytest.mark.realdata
def test_anime_ratings_and_domains() -> None:
    if not ANIME.exists():
        pytest.skip("shared anime data not available")
    d = load_dataset("anime", ANIME)
    assert len(d) == 419_943 and d.n_users == 4_714 and d.timestamp is None
    assert int((d.item_counts() > 0).sum()) == 7_157 and d.n_items == 7_390
    assert d.rating.min() == 1 and d.rating.max() == 10
    cat = d.catalog.frame
    assert cat["domain"].value_counts().to_dict() == {"other": 3_789, "tv": 2_542, "movie": 1_059}
    assert cat["type"].value_counts().to_dict() == {"TV": 2542, "OVA": 2219, "Special": 1147, "Movie": 1059,
                                                    "ONA": 257, "Music": 166}
    dom = d.catalog.domain_codes[d.item]
    rated_movie = np.bincount(d.user[dom == "movie"], minlength=d.n_users) > 0
    rated_tv = np.bincount(d.user[dom == "tv"], minlength=d.n_users) > 0
    assert int((rated_movie & rated_tv).sum()) == 3_421
    h = load_dataset("anime-history", ANIME)
    assert len(h) == 520_609 and h.n_users == 5_000 and h.rating is None
