import numpy as np
import pandas as pd
import pytest

from cinesync.data.dataset import Interactions
from cinesync.errors import DataError


def small():
    df = pd.DataFrame({"user": ["a", "a", "b", "a", "b"], "item": ["x", "y", "x", "z", "w"],
                       "rating": [5, 3, 4, 1, 2], "timestamp": [3, 1, 1, 1, 0]})
    cat = pd.DataFrame({"item_id": ["x", "y", "z", "w", "unrated"], "title": ["X", "Y", "Z", "W", "U"],
                        "genres": [("Drama",), ("Comedy", "Drama"), (), ("Horror",), ("Drama",)],
                        "domain": ["movie", "tv", "movie", "other", "tv"]})
    return Interactions.from_frame(df, catalog=cat, name="small")


def test_from_frame_keeps_catalogue_only_items_and_order():
    d = small()
    assert d.n_users == 2 and d.n_items == 5 and len(d) == 5
    assert d.items.ids.tolist() == ["x", "y", "z", "w", "unrated"]
    assert d.catalog.column("title").tolist() == ["X", "Y", "Z", "W", "U"]
    assert d.catalog.domain_mask("tv").tolist() == [False, True, False, False, True]
    assert d.catalog.genre_names == ["Comedy", "Drama", "Horror"]
    assert d.catalog.genre_matrix.shape == (5, 3)


def test_histories_time_ordered_ties_keep_file_order():
    d = small()
    h = d.histories()
    # user a: y (t=1, row 1), z (t=1, row 3), x (t=3)
    assert d.items.ids_of(h.row(0)) == ["y", "z", "x"]
    assert d.items.ids_of(h.row(1)) == ["w", "x"]
    assert h.timestamps[:3].tolist() == [1, 1, 3]


def test_csr_subset_concat_reindex():
    d = small()
    assert d.csr().sum() == 5
    train = d.with_rows(np.array([0, 1, 2]))
    rest = d.with_rows(np.array([3, 4]))
    assert train.users is d.users
    both = Interactions.concat([train, rest])
    assert len(both) == 5
    r = d.with_rows(d.item != d.items.index("y")).reindexed()
    assert r.n_items == 3 and "y" not in r.items and r.catalog.column("title").tolist() == ["X", "Z", "W"]


def test_checksum_stable_and_sensitive():
    assert small().checksum() == small().checksum()
    assert small().with_rows(np.arange(4)).checksum() != small().checksum()


def test_describe():
    d = small().describe()
    assert d["interactions"] == 5 and d["users"] == 2 and d["items"] == 4 and d["catalogue_items"] == 5
    assert d["domain_mix"] == {"movie": 3, "other": 1, "tv": 1}
    assert d["rating_min"] == 1.0 and d["rating_max"] == 5.0


def test_immutability_and_bad_domain():
    d = small()
    with pytest.raises(ValueError):
        d.user[0] = 1
    df = pd.DataFrame({"user": ["a"], "item": ["x"]})
    with pytest.raises(DataError, match="domain"):
        Interactions.from_frame(df, catalog=pd.DataFrame({"item_id": ["x"], "domain": ["film"]}))
