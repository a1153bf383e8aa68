"""User-supplied item vectors: id mapping, missing items, unknown ids and clear errors on bad files."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from cinesync.content.vectors import align_vectors, load_item_vectors, read_ids
from cinesync.data.ids import IdIndex
from cinesync.errors import DataError

ITEMS = IdIndex(["10", "20", "30", "40"], kind="item")
VECS = np.arange(12, dtype=np.float64).reshape(3, 4)


def _files(tmp_path, ids: str, name: str = "ids.txt", vecs: np.ndarray = VECS) -> tuple[str, str]:
    np.save(tmp_path / "v.npy", vecs)
    (tmp_path / name).write_text(ids)
    return str(tmp_path / "v.npy"), str(tmp_path / name)


def test_rows_map_onto_item_indices_and_missing_items_are_flagged(tmp_path) -> None:
    out = load_item_vectors(*_files(tmp_path, "30\n10\n20\n"), ITEMS)
    assert out.values.dtype == np.float32 and out.values.shape == (4, 4)
    np.testing.assert_array_equal(out.values[[2, 0, 1]], VECS)
    np.testing.assert_array_equal(out.values[3], 0.0)
    np.testing.assert_array_equal(out.missing, [False, False, False, True])
    assert out.n_unknown == 0
    flagged = out.with_flag()
    assert flagged.shape == (4, 5)
    np.testing.assert_array_equal(flagged[:, -1], [0, 0, 0, 1])


def test_unknown_ids_are_counted_and_logged(tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="cinesync.content.vectors"):
        out = load_item_vectors(*_files(tmp_path, "10\n99\n40\n"), ITEMS)
    assert out.n_unknown == 1
    assert "1 of 3 ids are not in the catalogue" in caplog.text and "'99'" in caplog.text
    np.testing.assert_array_equal(out.missing, [False, True, True, False])
    np.testing.assert_array_equal(out.values[3], VECS[2])


def test_csv_ids_with_and_without_header(tmp_path) -> None:
    (tmp_path / "a.csv").write_text("movieId,title\n20,x\n10,y\n40,z\n")
    assert list(read_ids(tmp_path / "a.csv")) == ["20", "10", "40"]
    (tmp_path / "b.csv").write_text("title,item_id\nx,30\ny,10\nz,20\n")
    assert list(read_ids(tmp_path / "b.csv")) == ["30", "10", "20"]
    matrix, _ = _files(tmp_path, "")
    (tmp_path / "c.csv").write_text("20\n10\n40\n")
    out = load_item_vectors(matrix, tmp_path / "c.csv", ITEMS)
    np.testing.assert_array_equal(out.missing, [False, False, True, False])


@pytest.mark.parametrize(("ids", "vecs", "match"), [
    ("10\n20\n", VECS, r"2 ids for 3 vector rows"),
    ("10\n20\n30\n40\n", VECS, r"4 ids for 3 vector rows"),
    ("10\n10\n20\n", VECS, "'10' appears 2 times"),
    ("10\n\n20\n", VECS, "row 2 has an empty item id"),
    ("", VECS, "holds no ids"),
    ("10\n20\n30\n", np.arange(3.0), r"shape \(3,\), expected a 2-D"),
    ("10\n20\n30\n", np.zeros((3, 0)), r"shape \(3, 0\)"),
    ("10\n20\n30\n", np.array([[1.0, np.nan], [0, 0], [1, np.inf]]), "2 rows hold NaN or inf"),
    ("10\n20\n30\n", np.array([["a"], ["b"], ["c"]]), "must be numbers"),
    ("98\n99\n97\n", VECS, "none of its 3 ids is an item id"),
])
def test_bad_files_raise_a_clear_error_naming_the_file(tmp_path, ids: str, vecs: np.ndarray, match: str) -> None:
    matrix, id_file = _files(tmp_path, ids, vecs=vecs)
    with pytest.raises(DataError, match=match) as err:
        load_item_vectors(matrix, id_file, ITEMS)
    assert "v.npy" in str(err.value) or "ids.txt" in str(err.value)


def test_missing_files_and_wrong_suffix(tmp_path) -> None:
    with pytest.raises(DataError, match="no such vectors file"):
        load_item_vectors(tmp_path / "nope.npy", tmp_path / "ids.txt", ITEMS)
    matrix, _ = _files(tmp_path, "10\n")
    with pytest.raises(DataError, match="no such ids file"):
        load_item_vectors(matrix, tmp_path / "nope.txt", ITEMS)
    (tmp_path / "ids.json").write_text("[]")
    with pytest.raises(DataError, match=r"must end in \.txt or \.csv"):
        read_ids(tmp_path / "ids.json")
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(DataError, match="junk.npy: not a readable"):
        load_item_vectors(tmp_path / "junk.npy", tmp_path / "ids.txt", ITEMS)


def test_align_in_memory_matches_the_file_loader(tmp_path) -> None:
    out = align_vectors(VECS, np.array(["40", "30", "20"], dtype=object), ITEMS, source="mem")
    np.testing.assert_array_equal(out.missing, [True, False, False, False])
    assert out.source == "mem" and out.dim == 4
