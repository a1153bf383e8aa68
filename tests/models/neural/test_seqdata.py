"""Training windows, CL4SRec augmentations and the attention pieces, on hand-made sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinesync.data.history import HistoryBatch
from cinesync.models.neural import seqdata
from cinesync.models.neural.blocks import apply_rope, attention_mask, rope_tables

PAD = 99


def test_windows_cover_every_target_once() -> None:
    hist = HistoryBatch.from_lists([list(range(10)), [50, 51], [70]])
    wins = seqdata.windows(hist, 4)
    rows = [wins.row(i).tolist() for i in range(len(wins))]
    # user 0: newest window first, consecutive windows overlap by one item; user 1: one window; user 2: none
    assert rows == [[6, 7, 8, 9], [3, 4, 5, 6], [0, 1, 2, 3], [50, 51]]
    assert wins.users.tolist() == [-1, -1, -1, -1]
    targets = [t for r in rows for t in r[1:]]
    assert sorted(targets) == [*range(1, 10), 51]  # every item after a user's first, exactly once


def test_windows_newest_only() -> None:
    hist = HistoryBatch.from_lists([list(range(10)), [5]])
    wins = seqdata.windows(hist, 4, newest_only=True)
    assert [wins.row(i).tolist() for i in range(len(wins))] == [[6, 7, 8, 9]]


def batch() -> torch.Tensor:
    return torch.tensor([[PAD, PAD, 1, 2, 3, 4], [PAD, PAD, PAD, PAD, PAD, 7], [11, 12, 13, 14, 15, 16]])


def test_crop_keeps_a_contiguous_right_aligned_part() -> None:
    seq = batch()
    out = seqdata.crop(seq, PAD, 0.5, torch.Generator().manual_seed(0))
    for row_in, row_out in zip(seq.tolist(), out.tolist(), strict=True):
        real_in = [x for x in row_in if x != PAD]
        real_out = [x for x in row_out if x != PAD]
        assert len(real_out) == max(1, len(real_in) // 2)
        assert row_out[-len(real_out):] == real_out  # right-aligned
        start = real_in.index(real_out[0])
        assert real_in[start:start + len(real_out)] == real_out


def test_mask_only_touches_real_items() -> None:
    seq = batch()
    out = seqdata.mask(seq, PAD, 100, 1.0)
    assert ((out == 100) == (seq != PAD)).all()
    assert (seqdata.mask(seq, PAD, 100, 0.0) == seq).all()


def test_reorder_permutes_within_the_row() -> None:
    seq = batch()
    out = seqdata.reorder(seq, PAD, 1.0, torch.Generator().manual_seed(1))
    for a, b in zip(seq.tolist(), out.tolist(), strict=True):
        assert sorted(a) == sorted(b)
        assert [x == PAD for x in a] == [x == PAD for x in b]  # padding stays where it was
    assert not (out == seq).all()


def test_augment_rows_are_valid_views() -> None:
    seq = batch()
    out = seqdata.augment(seq, PAD, 100, (0.6, 0.3, 0.6), torch.Generator().manual_seed(2))
    assert out.shape == seq.shape
    assert (out[:, -1] != PAD).all()  # every view keeps at least its newest slot


def test_attention_mask_causal_and_padding() -> None:
    pad = torch.tensor([[True, False, False]])
    m = attention_mask(pad, causal=True)[0, 0]
    expected = torch.tensor([[True, False, False], [False, True, False], [False, True, True]])
    assert torch.equal(m, expected)
    bi = attention_mask(pad, causal=False)[0, 0]
    assert torch.equal(bi, torch.tensor([[True, True, True], [False, True, True], [False, True, True]]))


def test_rope_preserves_norm_and_relative_dot_product() -> None:
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    cos, sin = rope_tables(16, 8, torch.device("cpu"))

    def at(x: torch.Tensor, p: int) -> torch.Tensor:
        return apply_rope(x, cos[p:p + 1], sin[p:p + 1])

    assert torch.allclose(at(q, 5).norm(), q.norm(), atol=1e-5)
    # the score depends on the distance only: (3, 1) and (9, 7) are both 2 apart
    assert torch.allclose((at(q, 3) * at(k, 1)).sum(), (at(q, 9) * at(k, 7)).sum(), atol=1e-5)


@pytest.mark.parametrize("bad", [{"hidden": 30, "heads": 4}, {"positions": "rope", "hidden": 6, "heads": 2}])
def test_bad_architecture_is_a_config_error(bad: dict) -> None:
    from cinesync.errors import ConfigError
    from cinesync.models import create

    with pytest.raises(ConfigError):
        create("sasrec", bad)


def test_windows_padded_shape() -> None:
    hist = HistoryBatch.from_lists([list(range(7))])
    padded = seqdata.windows(hist, 5).padded(5, pad=PAD)
    np.testing.assert_array_equal(padded, [[2, 3, 4, 5, 6], [PAD, PAD, 0, 1, 2]])
