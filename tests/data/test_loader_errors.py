"""Malformed input must raise DataError naming the file, the line and the problem (fixtures in tmp_path)."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cinesync.data.loaders import ColumnMap, load_anime, load_dataset, load_movielens
from cinesync.data.loaders.download import KNOWN_MD5, locate, md5_of, parse_md5, verify_md5
from cinesync.errors import ConfigError, DataError

HEADER = "userId,movieId,rating,timestamp\n"
MOVIES = "movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Heat (1995),Action\n"


def ml_folder(tmp_path: Path, ratings: str | bytes, movies: str = MOVIES) -> Path:
    (tmp_path / "ratings.csv").write_bytes(ratings.encode() if isinstance(ratings, str) else ratings)
    (tmp_path / "movies.csv").write_text(movies)
    return tmp_path


def error_of(path: Path, name: str | None = "ml-latest") -> str:
    with pytest.raises(DataError) as e:
        load_movielens(path, name)
    return str(e.value)


def test_missing_column_lists_missing_and_found(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, "userId,movieId,timestamp\n1,1,5\n"))
    assert "ratings.csv" in msg and "missing column(s) ['rating']" in msg
    assert "found ['userId', 'movieId', 'timestamp']" in msg


def test_non_numeric_rating_shows_value_and_line(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, HEADER + "1,1,4.0,100\n1,2,four,101\n"))
    assert re.search(r"ratings\.csv: non-numeric value 'four' in column 'rating' at line 3", msg), msg


def test_missing_value_line_counts_blank_lines(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, HEADER + "1,1,4.0,100\n\n1,2,,101\n"))
    assert "missing value in column 'rating' at line 4" in msg


def test_non_integer_id(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, HEADER + "1,1.5,4.0,100\n"))
    assert "'1.5' in column 'movieId' at line 2 (expected an integer)" in msg


def test_empty_file(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, b""))
    assert "ratings.csv: file is empty" in msg


def test_wrong_separator_is_named(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, "userId\tmovieId\trating\ttimestamp\n1\t1\t4\t100\n"))
    assert "only one column found" in msg and "tab-separated" in msg and "comma" in msg


def test_duplicate_header_column(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, "userId,movieId,rating,rating,timestamp\n1,1,4,4,100\n"))
    assert "duplicate column name(s) ['rating']" in msg


def test_repeated_header_line(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, HEADER + "1,1,4.0,100\n" + HEADER + "1,2,3.0,101\n"))
    assert "line 3 repeats the header" in msg


def test_too_many_fields_on_a_line(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, HEADER + "1,1,4.0,100\n1,2,3.0,101,9\n"))
    assert "ratings.csv: malformed line" in msg and "line 3" in msg


def test_dat_file_with_wrong_separator(tmp_path: Path) -> None:
    (tmp_path / "ratings.dat").write_text("1\t2\t5\t100\n")
    (tmp_path / "movies.dat").write_text("2::X (1990)::Drama\n")
    msg = error_of(tmp_path, "ml-1m")
    assert "ratings.dat" in msg and "tab-separated" in msg


def test_movies_dat_wrong_field_count_names_line(tmp_path: Path) -> None:
    (tmp_path / "ratings.dat").write_text("1::2::5::100\n")
    (tmp_path / "movies.dat").write_text("2::X (1990)::Drama\n3::Y (1991)\n")
    msg = error_of(tmp_path, "ml-1m")
    assert "movies.dat: line 2 has 2 '::'-separated fields, expected 3" in msg


def test_u_data_wrong_field_count(tmp_path: Path) -> None:
    (tmp_path / "u.data").write_text("1\t2\t5\n")
    (tmp_path / "u.item").write_text("2|X (1990)|01-Jan-1990||u|" + "|".join(["0"] * 19) + "\n")
    msg = error_of(tmp_path, "ml-100k")
    assert "u.data: line 1 has 3 tab-separated fields, expected 4" in msg


def test_zip_without_expected_member_lists_members(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "ml-1m.zip", "w") as zf:
        zf.writestr("ml-1m/README", "hi")
        zf.writestr("ml-1m/ratings.dat", "1::2::5::100\n")
    msg = error_of(tmp_path / "ml-1m.zip", "ml-1m")
    assert "ratings.dat + movies.dat" in msg and "found: ml-1m/README, ml-1m/ratings.dat" in msg


def test_corrupt_zip(tmp_path: Path) -> None:
    (tmp_path / "ml-1m.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    msg = error_of(tmp_path / "ml-1m.zip", "ml-1m")
    assert "cannot read it as a zip archive" in msg


def test_corrupt_zip_member(tmp_path: Path) -> None:
    rows = HEADER + "".join(f"{i},{i % 50},3.0,{1000 + i}\n" for i in range(5000))
    with zipfile.ZipFile(tmp_path / "ok.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-latest/ratings.csv", rows)
        zf.writestr("ml-latest/movies.csv", MOVIES)
    raw = bytearray((tmp_path / "ok.zip").read_bytes())
    raw[200:260] = bytes(b ^ 0x55 for b in raw[200:260])
    (tmp_path / "bad.zip").write_bytes(bytes(raw))
    msg = error_of(tmp_path / "bad.zip")
    assert "bad.zip:ml-latest/ratings.csv: corrupt archive member" in msg


def test_latin1_bytes_in_a_numeric_column_are_shown(tmp_path: Path) -> None:
    msg = error_of(ml_folder(tmp_path, HEADER.encode() + b"1,1,4.0,100\n1,2,\xe9,3\n"))
    assert "non-numeric value 'é' in column 'rating' at line 3" in msg


def test_undetectable_path_lists_expectations(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"cannot tell which data set.*u\.data \+ u\.item.*anime_info\.dat.*notes"):
        load_dataset(str(tmp_path))


def test_unknown_name_and_conflicting_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown data set 'ml-5m'"):
        load_dataset("ml-5m")
    with pytest.raises(ConfigError, match="has no links"):
        load_dataset("anime", tmp_path, tmdb_path=tmp_path / "x.csv")
    with pytest.raises(ConfigError, match="only apply to 'csv' and 'parquet'"):
        load_dataset("ml-1m", tmp_path, columns=ColumnMap())


def test_missing_local_release_without_download_says_path_or_download(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        load_dataset("ml-25m", cache_dir=tmp_path)
    assert "--path" in str(e.value) and "--download" in str(e.value) and "ml-25m.zip" in str(e.value)


def test_cached_release_is_found_without_network(tmp_path: Path) -> None:
    (tmp_path / "ml-1m").mkdir()
    assert locate("ml-1m", tmp_path) == tmp_path / "ml-1m"


def test_anime_missing_info_and_bad_feedback(tmp_path: Path) -> None:
    (tmp_path / "anime_ratings.dat").write_text("User_ID\tAnime_ID\tFeedback\n1\t1\t8\n")
    with pytest.raises(DataError, match="no anime_info.dat"):
        load_anime(tmp_path)
    (tmp_path / "anime_info.dat").write_text("anime_ids\tname\tgenre\ttype\tepisodes\trating\tmembers\n"
                                             "1\tA\tDrama\tMovie\t1\t8.0\t10\n1\tB\tDrama\tTV\t1\t8.0\t10\n")
    with pytest.raises(DataError, match=r"anime id 1 listed twice \(second time at line 3\)"):
        load_anime(tmp_path)
    with pytest.raises(ConfigError):
        load_anime(tmp_path, feedback="clicks")  # type: ignore[arg-type]


def test_generic_table_errors(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("u,i,when\na,1,2020-01-01\nb,2,yesterday\n")
    cm = ColumnMap(user="u", item="i", timestamp="when")
    with pytest.raises(DataError, match="line 3: timestamp 'yesterday' is neither integer seconds nor an ISO 8601"):
        load_dataset("csv", tmp_path / "x.csv", columns=cm)
    with pytest.raises(DataError, match=r"missing column\(s\) \['user', 'item'\]"):
        load_dataset("csv", tmp_path / "x.csv")
    pd.DataFrame({"u": ["a"], "i": ["b"], "r": ["bad"]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(DataError, match="row 1: rating 'bad' is not a number"):
        load_dataset("parquet", tmp_path / "x.parquet", columns=ColumnMap(user="u", item="i", rating="r"))
    with pytest.raises(DataError, match="needs a path"):
        load_dataset("csv")


# ---- checksum verification (local files only, no network) ---------------------------------------------
def test_verify_md5_accepts_match_and_removes_mismatch(tmp_path: Path) -> None:
    f = tmp_path / "ml-x.zip"
    f.write_bytes(b"movielens")
    good = hashlib.md5(b"movielens").hexdigest()
    assert md5_of(f) == good
    verify_md5(f, good.upper())
    with pytest.raises(DataError, match="MD5 checksum mismatch"):
        verify_md5(f, "0" * 32)
    assert not f.exists()


def test_parse_published_md5_formats() -> None:
    digest = KNOWN_MD5["ml-latest-small"]
    assert parse_md5(f"MD5 (ml-latest-small.zip) = {digest}\n") == digest
    assert parse_md5(f"{digest.upper()}  ml-latest-small.zip\n") == digest
    with pytest.raises(DataError):
        parse_md5("<html>not found</html>")


@pytest.mark.realdata
def test_bundled_zip_matches_published_checksum() -> None:
    from importlib import resources

    with resources.as_file(resources.files("cinesync") / "bundled" / "ml-latest-small.zip") as p:
        verify_md5(p, KNOWN_MD5["ml-latest-small"], remove=False)
