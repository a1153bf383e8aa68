"""Two-tower item-tower blocks and fusion: shapes, one training step, config validation, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cinesync.models.neural.twotower  # noqa: F401  (registers "twotower")
from cinesync.artifacts import load_model, save_model
from cinesync.content.vectors import ItemVectors
from cinesync.errors import ConfigError
from cinesync.models import FitContext, create
from cinesync.models.neural.itemblocks import upgrade_state
from cinesync.models.neural.towers import meta_features
from cinesync.testing.contract import planted_split

TINY = {"epochs": 1, "dim": 16, "hidden": 32, "max_len": 20, "batch_size": 64, "lr": 5e-3, "patience": None}
FUSIONS = ["sum", "concat", "gate", "attention"]


def _text(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _poster(n: int) -> ItemVectors:
    """5-d vectors for the even items; odd items missing."""
    values = np.zeros((n, 5), np.float32)
    values[::2] = np.random.default_rng(1).normal(size=(len(values[::2]), 5))
    missing = np.arange(n) % 2 == 1
    return ItemVectors(values, missing, 0, "poster")


@pytest.mark.parametrize("fusion", FUSIONS)
def test_fusion_shapes_and_a_training_step(fusion: str) -> None:
    train, _ = planted_split()
    model = create("twotower", {**TINY, "blocks": ["id", "meta", "text", "vectors:poster"], "fusion": fusion})
    model.fit(train, FitContext(seed=0, item_vectors=_text(train.n_items),
                                block_vectors={"poster": _poster(train.n_items)}))
    module = model.module_
    assert module.block_vectors().shape == (train.n_items, 4, 16)
    assert module.item_base().shape == (train.n_items, 16)
    assert module.vec_poster.shape == (train.n_items, 6)  # 5 values + the missing flag
    np.testing.assert_array_equal(module.vec_poster[:, -1].numpy(), np.arange(train.n_items) % 2)
    weights = module.fusion_weights()
    if fusion in ("gate", "attention"):
        assert weights.shape == (train.n_items, 4) and torch.isfinite(weights).all()
    else:
        assert weights is None
    batch = next(iter(model._batches(train, torch.device("cpu"))(np.random.default_rng(0))))
    module.train()
    before = {k: v.detach().clone() for k, v in module.named_parameters()}
    loss = model._loss(module, batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    torch.optim.SGD(module.parameters(), lr=0.1).step()
    changed = {k for k, v in module.named_parameters() if not torch.equal(v, before[k])}
    assert "proj.vec_poster.weight" in changed and "proj.text.weight" in changed
    if fusion != "sum":
        assert any(k.startswith(("fuse", "block_type")) for k in changed)
    assert model.score(train.histories(np.arange(3))).shape == (3, train.n_items)


@pytest.mark.parametrize("fusion", ["concat", "gate", "attention"])
def test_every_fusion_starts_as_the_sum(fusion: str) -> None:
    """Freshly initialised, concat / gate / attention give the sum of the blocks (+ block-type vectors)."""
    from cinesync.models.neural.towers import module_class

    cfg = create("twotower", {**TINY, "blocks": ["id", "meta"], "fusion": fusion}).config
    module = module_class()({"n_items": 7, "meta_dim": 3}, cfg, ["id", "meta"])
    module.set_features({"meta": np.random.default_rng(0).normal(size=(7, 3))})
    tokens = module.block_vectors()
    expected = tokens.sum(1) + (module.block_type.sum(0) if fusion == "attention" else 0)
    torch.testing.assert_close(module.item_base(), expected)


def test_content_only_tower_scores_unseen_items_by_their_content() -> None:
    """Without "id", two items with identical meta + text inputs get identical item vectors."""
    train, _ = planted_split()
    text = _text(train.n_items)
    text[1] = text[0]
    model = create("twotower", {**TINY, "blocks": ["meta", "text"]})
    model.fit(train, FitContext(seed=0, item_vectors=text))
    assert model.module_.item_emb is None
    same_meta = np.allclose(meta_features(train.catalog)[0], meta_features(train.catalog)[1])
    items = model.item_embeddings()
    assert np.allclose(items[0], items[1], atol=1e-6) == same_meta


@pytest.mark.parametrize("fusion", FUSIONS)
def test_save_load_identical_scores_with_extra_blocks(fusion: str, tmp_path) -> None:
    train, _ = planted_split()
    vecs = np.random.default_rng(2).normal(size=(40, 3)).astype(np.float32)
    ids = train.items.ids[:40]
    np.save(tmp_path / "poster.npy", vecs)
    (tmp_path / "poster.txt").write_text("\n".join(ids) + "\n")
    config = {**TINY, "blocks": ["id", "text", "meta", "vectors:poster"], "fusion": fusion,
              "vectors": {"poster": {"path": str(tmp_path / "poster.npy"), "ids": str(tmp_path / "poster.txt")}}}
    model = create("twotower", config).fit(train, FitContext(seed=0, item_vectors=_text(train.n_items)))
    np.testing.assert_array_equal(model.module_.vec_poster[:40, :3].numpy(), vecs)
    assert model.module_.vec_poster[40:, -1].min() == 1.0  # items beyond the file: flagged missing
    save_model(model, tmp_path / "model")
    (tmp_path / "poster.npy").unlink()  # loading needs nothing but the saved model
    loaded = load_model(tmp_path / "model")[0]
    batch = train.histories(np.arange(0, train.n_users, 9))
    np.testing.assert_array_equal(loaded.score(batch), model.score(batch))
    assert loaded.blocks == ["id", "text", "meta", "vectors:poster"]


def test_default_blocks_follow_the_given_text() -> None:
    train, _ = planted_split()
    plain = create("twotower", TINY).fit(train, FitContext(seed=0))
    assert plain.blocks == ["id", "meta"]
    text = create("twotower", TINY).fit(train, FitContext(seed=0, item_vectors=_text(train.n_items)))
    assert text.blocks == ["id", "meta", "text"]


@pytest.mark.parametrize(("config", "match"), [
    ({"blocks": ["id", "poster"]}, "unknown item block 'poster'"),
    ({"blocks": []}, "at least one"),
    ({"blocks": ["id", "id"]}, "twice"),
    ({"blocks": ["id", "vectors:bad name"]}, "unknown item block"),
    ({"fusion": "max"}, "fusion"),
    ({"blocks": ["id"], "fusion": "gate"}, "at least two blocks"),
    ({"blocks": ["id"], "text_vectors": "t.npy"}, "'text' is not in blocks"),
    ({"blocks": ["id"], "vectors": {"poster": {"path": "p.npy", "ids": "p.txt"}}}, "vectors:poster"),
    ({"vectors": {"poster": {"path": "p.npy", "ids": "p.txt"}}}, "list them in blocks"),
])
def test_bad_block_config(config: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        create("twotower", config)


def test_block_without_input_is_a_clear_error() -> None:
    train, _ = planted_split()
    with pytest.raises(ConfigError, match="vectors:poster has no input"):
        create("twotower", {**TINY, "blocks": ["id", "vectors:poster"]}).fit(train, FitContext(seed=0))
    with pytest.raises(ConfigError, match="'text' is not in blocks"):
        create("twotower", {**TINY, "blocks": ["id", "meta"]}).fit(
            train, FitContext(seed=0, item_vectors=_text(train.n_items)))


def test_states_saved_before_blocks_load_as_the_same_sum() -> None:
    """Old layout (genres / year / text projections) -> one meta block with the same item_base."""
    from cinesync.models.neural.towers import module_class

    rng = np.random.default_rng(0)
    n, d = 6, 4
    genres, year, text = rng.random((n, 3)), rng.random((n, 2)), rng.random((n, 5))
    wg, wy, wt, emb = rng.normal(size=(d, 3)), rng.normal(size=(d, 2)), rng.normal(size=(d, 5)), rng.normal(size=(n, d))
    old = {"dims.n_items": np.int64(n), "dims.n_genres": np.int64(3), "dims.text_dim": np.int64(5),
           "module.item_emb.weight": emb, "module.genres": genres, "module.year": year, "module.text": text,
           "module.genre_proj.weight": wg, "module.year_proj.weight": wy, "module.text_proj.weight": wt}
    new = upgrade_state(old)
    assert {"dims.meta_dim", "module.meta", "module.proj.meta.weight", "module.proj.text.weight"} <= set(new)
    assert not {"dims.n_genres", "module.genres", "module.genre_proj.weight"} & set(new)
    cfg = create("twotower", {**TINY, "dim": d}).config
    module = module_class()({"n_items": n, "meta_dim": 5, "text_dim": 5}, cfg, ["id", "meta", "text"])
    module.load_state_dict({k[7:]: torch.as_tensor(np.asarray(v), dtype=torch.float32)
                            for k, v in new.items() if k.startswith("module.")}, strict=False)
    expected = emb + genres @ wg.T + year @ wy.T + text @ wt.T
    np.testing.assert_allclose(module.item_base().detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    assert upgrade_state(new) is new


def test_text_block_without_vectors_uses_the_encoder(monkeypatch) -> None:
    """"text" with no given vectors asks ``item_embeddings`` for the training catalogue (stubbed here)."""
    import cinesync.content.embeddings as emb

    train, _ = planted_split()
    calls = []

    def fake(catalog, model_path=None, cache_dir=None, batch_size=64, progress=False):
        calls.append((len(catalog), model_path, cache_dir))
        return _text(len(catalog), 6)

    monkeypatch.setattr(emb, "item_embeddings", fake)
    model = create("twotower", {**TINY, "blocks": ["id", "text"], "text_model": "m", "text_cache_dir": "c"})
    model.fit(train, FitContext(seed=0))
    assert calls == [(train.n_items, "m", "c")]
    np.testing.assert_array_equal(model.module_.text.numpy(), _text(train.n_items, 6))


def test_a_model_saved_before_blocks_loads_to_the_same_scores() -> None:
    """A fitted default model's state rewritten in the old layout loads back to identical scores."""
    train, _ = planted_split()
    model = create("twotower", TINY).fit(train, FitContext(seed=0))
    state = model.state()
    meta, w = state.pop("module.meta"), state.pop("module.proj.meta.weight")
    g = int(state.pop("dims.meta_dim")) - 2  # no runtime column in the planted catalogue: genres | year
    old = {**state, "dims.n_genres": np.int64(g), "dims.text_dim": np.int64(0),
           "module.year": meta[:, g:], "module.year_proj.weight": w[:, g:]}
    if g:
        old.update({"module.genres": meta[:, :g], "module.genre_proj.weight": w[:, :g]})
    loaded = create("twotower", TINY).load_state(old, train.n_items)
    batch = train.histories(np.arange(8))
    np.testing.assert_array_equal(loaded.score(batch), model.score(batch))
