"""Item text embeddings: texts, the per-text disk cache (counted encoder calls), errors. Real MiniLM, ~10 texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cinesync.content import default_cache_dir, item_embeddings, item_texts
from cinesync.content import embeddings as emb
from cinesync.data.dataset import ItemCatalog
from cinesync.data.ids import IdIndex
from cinesync.errors import ConfigError
from cinesync.ranking.similar import similar_items

TITLES = ["Alien", "Notting Hill", "The Shining", "Toy Story", "Aliens", "Love Actually"]
GENRES = [("Sci-Fi", "Horror"), ("Romance", "Comedy"), ("Horror",), ("Animation", "Children"), ("Sci-Fi", "Action"),
          ("Romance",)]
OVERVIEWS = ["The crew of a spaceship is hunted by an alien creature.", "A bookshop owner falls in love with a "
             "film star.", "A writer goes mad in an isolated haunted hotel.", "Toys come to life when nobody is "
             "watching.", "Marines fight aliens on a distant colony.", ""]


def catalog(overviews: list[str] = OVERVIEWS) -> ItemCatalog:
    ids = IdIndex([str(i) for i in range(len(TITLES))], kind="item")
    return ItemCatalog(ids, pd.DataFrame({"title": TITLES, "genres": GENRES, "overview": overviews,
                                          "tags": [("space", "space", "Space", "creature"), (), (), (), (), ()]}))


class CountingEncoder:
    """Wraps the real model and counts what it is asked to encode."""

    def __init__(self, inner: emb.Encoder) -> None:
        self.inner, self.calls, self.texts = inner, 0, []

    def encode(self, sentences: list[str], **kwargs) -> np.ndarray:
        self.calls += 1
        self.texts.extend(sentences)
        return self.inner.encode(sentences, **kwargs)


@pytest.fixture
def spy(monkeypatch) -> CountingEncoder:
    real = emb.load_encoder(str(emb.resolve_model_path()))
    counter = CountingEncoder(real)
    monkeypatch.setattr(emb, "load_encoder", lambda path: counter)
    return counter


def test_item_texts() -> None:
    texts = item_texts(catalog())
    assert texts[0] == ("Alien. Genres: Sci-Fi, Horror. Tags: space, creature. The crew of a spaceship is hunted "
                        "by an alien creature.")
    assert texts[5] == "Love Actually. Genres: Romance."
    assert item_texts(catalog(), ("title",))[1] == "Notting Hill."
    with pytest.raises(ConfigError, match="subset"):
        item_texts(catalog(), ("plot",))


def test_cache_miss_encodes_then_hit_encodes_nothing(spy: CountingEncoder, tmp_path: Path) -> None:
    cat = catalog()
    first = item_embeddings(cat, cache_dir=tmp_path, batch_size=4)
    assert first.shape == (6, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert spy.calls == 2 and len(spy.texts) == 6  # 6 texts in batches of 4
    again = item_embeddings(cat, cache_dir=tmp_path)
    assert spy.calls == 2  # a cache hit encodes nothing
    np.testing.assert_array_equal(first, again)
    # meaning, not noise: the two alien films are each other's nearest neighbour
    assert similar_items(first, 0, k=1)[0][0] == 4


def test_changed_text_re_encodes_only_that_item(spy: CountingEncoder, tmp_path: Path) -> None:
    first = item_embeddings(catalog(), cache_dir=tmp_path)
    changed = list(OVERVIEWS)
    changed[2] = "A family spends a winter in a remote mountain hotel."
    stats: dict[str, int] = {}
    second = emb.encode_texts(item_texts(catalog(changed)), cache_dir=tmp_path, stats=stats)
    assert stats == {"texts": 6, "cached": 5, "encoded": 1}
    assert spy.texts[6:] == [item_texts(catalog(changed))[2]]
    mask = np.arange(6) != 2
    np.testing.assert_array_equal(first[mask], second[mask])
    assert not np.allclose(first[2], second[2])


def test_rows_follow_item_order(tmp_path: Path) -> None:
    a = emb.encode_texts(["space aliens", "a love story", "space aliens"], cache_dir=tmp_path)
    b = emb.encode_texts(["a love story", "space aliens"], cache_dir=tmp_path)
    np.testing.assert_array_equal(a[0], b[1])
    np.testing.assert_array_equal(a[0], a[2])
    np.testing.assert_array_equal(a[1], b[0])


def test_corrupt_cache_is_rebuilt(spy: CountingEncoder, tmp_path: Path, caplog) -> None:
    first = item_embeddings(catalog(), cache_dir=tmp_path)
    path = emb.cache_file(None, tmp_path)
    assert path.is_file() and path.parent.parent == tmp_path
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with caplog.at_level("WARNING"):
        again = item_embeddings(catalog(), cache_dir=tmp_path)
    assert "unreadable" in caplog.text
    assert len(spy.texts) == 12  # everything encoded again
    np.testing.assert_allclose(first, again, atol=1e-5)
    assert item_embeddings(catalog(), cache_dir=tmp_path).shape == (6, 384) and len(spy.texts) == 12


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        item_embeddings(catalog(), model_path=str(tmp_path / "no-model"), cache_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a sentence-transformers model"):
        item_embeddings(catalog(), model_path=str(tmp_path / "empty"), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="batch_size"):
        emb.encode_texts(["x"], cache_dir=tmp_path, batch_size=0)


def test_local_model_folder_is_accepted_and_keyed_by_content(tmp_path: Path) -> None:
    """A copy of the model elsewhere is the same model: same cache key, so its cache is shared."""
    import shutil

    src = emb.resolve_model_path()
    copy = tmp_path / "minilm"
    shutil.copytree(src, copy)
    assert emb.model_identity(copy) == emb.model_identity(src)
    assert emb.cache_file(str(copy), tmp_path) == emb.cache_file(None, tmp_path)


def test_default_cache_dir() -> None:
    assert default_cache_dir("/srv/cs") == Path("/srv/cs/cache/embeddings")
    assert default_cache_dir() == Path("~/.cinesync").expanduser() / "cache" / "embeddings"

