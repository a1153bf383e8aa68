"""The two-tower fusion ablation's pieces: cold targets."""

from __future__ import annotations

import numpy as np


def test_cold_targets_keep_only_rarely_trained_items() -> None:
    import scipy.sparse as sp

    from cinesync.experiments.fusion_ablation import cold_targets

    targets = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], np.float64))
    cold = cold_targets(targets, np.array([3, 50, 1]), cold_max=5)
    np.testing.assert_array_equal(cold.toarray(), [[1, 0, 0], [0, 0, 1]])
    assert cold.nnz == 2
