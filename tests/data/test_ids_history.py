import numpy as np
import pytest

from cinesync.data.history import HistoryBatch
from cinesync.data.ids import IdIndex
from cinesync.errors import UnknownIdError


def test_idindex_roundtrip_and_unknown():
    idx = IdIndex(["10", 20, "x"], kind="item")
    assert len(idx) == 3 and idx.index(20) == 1 and idx.id(2) == "x"
    assert idx.indices(["x", "10"]).tolist() == [2, 0]
    assert idx.indices(["x", "nope"], missing="minus1").tolist() == [2, -1]
    assert idx.indices(["x", "nope"], missing="drop").tolist() == [2]
    with pytest.raises(UnknownIdError, match="unknown item id 'nope'"):
        idx.index("nope")
    with pytest.raises(UnknownIdError):
        idx.id(3)
    assert "x" in idx and "y" not in idx


def test_idindex_duplicates_rejected_and_extend():
    with pytest.raises(ValueError, match="duplicate"):
        IdIndex(["a", "b", "a"])
    idx = IdIndex(["a", "b"]).extend(["b", "c", "c"])
    assert idx.ids.tolist() == ["a", "b", "c"]


def test_from_values_first_seen_order():
    idx, codes = IdIndex.from_values(["b", "a", "b", "c"])
    assert idx.ids.tolist() == ["b", "a", "c"] and codes.tolist() == [0, 1, 0, 2]


def test_history_batch_views():
    hb = HistoryBatch.from_lists([[3, 1, 2], [], [4]], users=[0, -1, 2],
                                 ratings=[[5, 4, 3], [], [1]], timestamps=[[1, 2, 3], [], [9]])
    assert len(hb) == 3 and hb.lengths.tolist() == [3, 0, 1]
    assert hb.row(0).tolist() == [3, 1, 2]
    m = hb.to_csr(5)
    assert m.shape == (3, 5) and m[0].toarray().tolist() == [[0, 1, 1, 1, 0]]
    assert hb.to_csr(5, "rating")[0, 3] == 5
    assert hb.padded(2, pad=-1).tolist() == [[1, 2], [-1, -1], [-1, 4]]
    sel = hb.select([2, 0])
    assert sel.row(0).tolist() == [4] and sel.users.tolist() == [2, 0]
    both = hb.append(hb.select([2, 2, 0]))
    assert both.row(0).tolist() == [3, 1, 2, 4] and both.row(2).tolist() == [4, 3, 1, 2]
    assert both.timestamps[:4].tolist() == [1, 2, 3, 9]
    with pytest.raises(ValueError):
        hb.items[0] = 7  # immutable


def test_history_rating_csr_last_wins():
    hb = HistoryBatch.from_lists([[1, 1]], ratings=[[2.0, 4.0]])
    assert hb.to_csr(3, "rating")[0, 1] == 4.0
    assert hb.to_csr(3)[0, 1] == 1.0


def test_history_batch_validation():
    with pytest.raises(ValueError):
        HistoryBatch(np.array([0, 2]), np.array([1], np.int32), np.array([0], np.int32))
