"""Bad rows in an input file: every loader names the file and the line a person would see, fails the
whole load by default, and with ``bad_rows="skip"`` leaves them out and reports them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cinesync.data.loaders import ColumnMap, Skipped, load_anime, load_dataset, load_movielens, load_table
from cinesync.data.ratings import STARS, TEN, RatingScale, parse_scale
from cinesync.errors import ConfigError, DataError

ROWS = "user,item,rating,timestamp\n1001,1,4,1500000000\n1002,2,3.5,1500000001\n"


def table(tmp_path: Path, body: str, name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body.encode("utf-8"))
    return path


@pytest.mark.parametrize("value, why", [
    ("inf", "rating 'inf' is not on the rating scale 0.5..5 in steps of 0.5"),
    ("-3", "rating '-3' is not on the rating scale"), ("99", "rating '99' is not on"),
    ("2.7", "rating '2.7' is not on"), ("four", "rating 'four' is not a number"), ("", "missing rating")])
def test_a_rating_off_the_scale_fails_the_load_naming_file_and_line(tmp_path: Path, value: str, why: str) -> None:
    path = table(tmp_path, ROWS + f"1003,3,{value},1500000002\n")
    with pytest.raises(DataError, match=rf"r.csv: line 4: {why}"):
        load_dataset(str(path))


def test_skip_bad_rows_reports_and_keeps_the_rest(tmp_path: Path) -> None:
    path = table(tmp_path, ROWS + "1003,3,99,1500000002\n\n1004,4,-3,1500000003\n1005,5,5,1500000004\n")
    report: list[Skipped] = []
    data = load_dataset(str(path), bad_rows="skip", report=report)
    assert len(data) == 3 and sorted(data.items.ids.tolist()) == ["1", "2", "5"]
    (skipped,) = report
    assert skipped.count == 2 and [line for line, _ in skipped.examples] == [4, 6]  # the blank line counts
    assert "rating '99'" in skipped.examples[0][1] and "skipped 2 bad row(s)" in str(skipped)
    with pytest.raises(ConfigError, match="'error' or 'skip'"):
        load_dataset(str(path), bad_rows="maybe")


def test_the_first_bad_timestamp_is_reported_not_line_2(tmp_path: Path) -> None:
    body = ROWS + "1004,4,3,1500000002\n1003,55,4,notatime\n"
    with pytest.raises(DataError, match=r"r.csv: line 5: timestamp 'notatime' is neither integer seconds"):
        load_dataset(str(table(tmp_path, body)))
    iso = table(tmp_path, "user,item,timestamp\na,1,2020-01-01T10:00:00Z\nb,2,1600000000\n", "iso.csv")
    np.testing.assert_array_equal(load_dataset(str(iso)).timestamp, [1577872800, 1600000000])


@pytest.mark.parametrize("bad_id, what", [("10\x000", "user"), ("7\x07", "user"), ("x\ty", "item")])
def test_control_characters_in_ids_are_refused_at_the_loader(tmp_path: Path, bad_id: str, what: str) -> None:
    user, item = (bad_id, "1") if what == "user" else ("1", bad_id)
    path = table(tmp_path, f"user;item\nok;1\n{user};{item}\n")
    with pytest.raises(DataError, match=rf"line 3: {what} id .* holds a control character"):
        load_table(path, ColumnMap(user="user", item="item", sep=";"))


def test_empty_and_tiny_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no data rows"):
        load_dataset(str(table(tmp_path, "user,item,rating,timestamp\n")))
    with pytest.raises(DataError, match="missing user id"):
        load_dataset(str(table(tmp_path, "user,item\n,1\n", "blank-id.csv")))
    with pytest.raises(DataError, match="every row is bad"):
        load_dataset(str(table(tmp_path, "user,item,rating\n1,1,99\n", "all-bad.csv")), bad_rows="skip")


def test_a_file_declares_its_own_scale(tmp_path: Path) -> None:
    path = table(tmp_path, "user,item,rating\n1,1,10\n2,1,7\n")
    with pytest.raises(DataError, match="--rating-scale"):
        load_table(path)
    data = load_table(path, ColumnMap(rating="rating", rating_scale="1:10:1"))
    np.testing.assert_array_equal(data.rating, [10.0, 7.0])
    assert parse_scale("0.5:5:0.5") == STARS and parse_scale("1:10") == RatingScale(1.0, 10.0)
    for bad in ("1-10", "10:1", "1:2:5", "a:b", "1:inf"):
        with pytest.raises(ConfigError):
            parse_scale(bad)
    assert TEN.problem(11) and STARS.problem(True) and STARS.check(4.5) == 4.5


def test_parquet_rows_are_named_by_row(tmp_path: Path) -> None:
    pd.DataFrame({"user": ["a", "b"], "item": ["1", "2"], "rating": [4.0, np.inf]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(DataError, match=r"x.parquet: row 2: rating inf is not on the rating scale"):
        load_dataset(str(tmp_path / "x.parquet"))


def test_movielens_and_anime_check_their_scales(tmp_path: Path) -> None:
    ml = tmp_path / "ml"
    ml.mkdir()
    (ml / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,100\n1,2,99,101\n")
    (ml / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Heat (1995),Action\n")
    with pytest.raises(DataError, match=r"ratings.csv: line 3: rating 99 is not on the rating scale 0.5..5"):
        load_movielens(ml, "ml-latest")
    report: list[Skipped] = []
    assert len(load_movielens(ml, "ml-latest", bad_rows="skip", report=report)) == 1 and report[0].count == 1
    with zipfile.ZipFile(tmp_path / "anime.zip", "w") as z:
        z.writestr("anime/anime_ratings.dat", "User_ID\tAnime_ID\tFeedback\n1\t1\t8\n1\t2\t11\n")
        z.writestr("anime/anime_info.dat", "anime_ids\tname\tgenre\ttype\tepisodes\trating\tmembers\n"
                                           "1\tA\tDrama\tMovie\t1\t8.0\t10\n2\tB\tDrama\tTV\t12\t7.0\t10\n")
    with pytest.raises(DataError, match=r"anime.zip:anime/anime_ratings.dat: line 3: rating 11 is not on the "
                                         r"rating scale 1..10"):
        load_anime(tmp_path / "anime.zip")
