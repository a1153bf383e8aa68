"""A saved neural model loads in a fresh process — without the training code — to identical scores."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cinesync.artifacts import save_model
from cinesync.models import FitContext, create
from cinesync.testing.contract import planted_split

from . import test_bert4rec, test_lightgcn, test_multvae, test_ncf, test_twotower

#: tiny configs (a few epochs on the planted data); every neural model in the zoo is listed
TINY: dict[str, dict] = {
    "sasrec": {"epochs": 2, "hidden": 16, "max_len": 10, "layers": 1, "batch_size": 32, "patience": None},
    **{c.name: {**c.config, "epochs": 2} for c in (test_bert4rec.TestBERT4Rec, test_lightgcn.TestLightGCN,
                                                   test_multvae.TestMultVAE, test_ncf.TestNeuMF,
                                                   test_twotower.TestTwoTower)},
}


def test_every_neural_model_is_covered() -> None:
    from cinesync.cli.common import parse_models as _parse_models

    assert set(TINY) == set(_parse_models("neural"))

LOADER = textwrap.dedent("""
    import sys
    import numpy as np
    from cinesync.data.history import HistoryBatch
    from cinesync.artifacts import load_model

    model = load_model(sys.argv[1])[0]
    z = np.load(sys.argv[2])
    batch = HistoryBatch(z["indptr"], z["items"], z["users"])
    np.save(sys.argv[3], model.score(batch))
    loaded = sorted(m for m in sys.modules if m.startswith(("cinesync.training.trainer", "cinesync.eval")))
    assert not loaded, f"training code imported to load a model: {loaded}"
""")


@pytest.mark.parametrize("name", sorted(TINY))
def test_loads_in_a_fresh_process_to_identical_scores(name: str, tmp_path) -> None:
    train, _ = planted_split()
    model = create(name, TINY[name]).fit(train, FitContext(seed=0))
    save_model(model, tmp_path / "model")
    batch = train.histories(np.arange(0, train.n_users, 7))
    np.savez(tmp_path / "batch.npz", indptr=batch.indptr, items=batch.items, users=batch.users)
    proc = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "model"), str(tmp_path / "batch.npz"),
                           str(tmp_path / "scores.npy")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "scores.npy"), model.score(batch))


def test_thread_count_follows_the_environment(monkeypatch) -> None:
    """The command line reads the thread count (CINESYNC_THREADS, then OMP_NUM_THREADS) and hands it on."""
    from cinesync.cli.common import threads_from_env

    monkeypatch.setenv("CINESYNC_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads_from_env() == 1
    monkeypatch.delenv("CINESYNC_THREADS")
    assert threads_from_env() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "zero")
    assert threads_from_env() is None
