"""Biased matrix factorisation for explicit ratings, trained by alternating least squares.

r_hat(u, i) = mu + b_u + b_i + p_u . q_i. Each half-step solves one ridge regression per
user (or item) over that row's ratings, with penalty ``reg * n_ratings`` when
``weighted_regularization`` (ALS-WR, Zhou et al. 2008) and ``bias_reg`` likewise on the
bias. All rows are solved at once by batched conjugate gradients (vectorised: two sparse
products per step; warm-started while training, run to convergence for fold-in).

Any history is scored by folding it in: the user step against the fixed item parameters,
using the history's ratings (an item without a rating counts as the training maximum,
i.e. "liked"). ``score`` returns the predicted rating of every item; an empty history
gives mu + b_i (the regularised item mean). ``predict`` returns ratings clipped to the
training range, for RMSE / MAE.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import pydantic
import scipy.sparse as sp

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.errors import DataError
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.registry import register

log = logging.getLogger(__name__)


class BiasedMFConfig(ModelConfig):
    """factors: latent dimension. reg / bias_reg: ridge penalties on p, q and on b_u, b_i
    (per rating when weighted_regularization). iterations: ALS sweeps. cg_steps: CG steps
    per half-sweep (warm-started). seed: initialisation (None = the FitContext seed)."""

    factors: int = pydantic.Field(32, ge=1)
    reg: float = pydantic.Field(0.1, gt=0.0)
    bias_reg: float = pydantic.Field(0.1, ge=0.0)
    weighted_regularization: bool = True
    iterations: int = pydantic.Field(15, ge=1)
    cg_steps: int = pydantic.Field(4, ge=1)
    seed: int | None = None


def ridge_rows(design: np.ndarray, targets: sp.csr_matrix, penalty: np.ndarray,
               x0: np.ndarray | None = None, steps: int | None = None, tol: float = 1e-10) -> np.ndarray:
    """Solve, for every row r of ``targets`` (n, m) CSR, the ridge system
    (Z_r^T Z_r + diag(penalty[r])) x_r = Z_r^T t_r, with Z_r = design[cols of row r] (m, d).

    penalty: (n, d). Batched conjugate gradients from ``x0`` (default 0) for ``steps``
    iterations (default: until the residual is below ``tol`` relative, at most 2d + 10).
    Returns (n, d) float64.
    """
    n, d = targets.shape[0], design.shape[1]
    counts = np.diff(targets.indptr)
    cols = targets.indices
    zc = design[cols]  # (nnz, d)

    def apply(v: np.ndarray) -> np.ndarray:  # A v for every row at once
        s = np.einsum("kd,kd->k", zc, np.repeat(v, counts, axis=0))  # z_i . v_r per rating
        return sp.csr_matrix((s, cols, targets.indptr), shape=targets.shape) @ design + penalty * v

    b = np.asarray(targets @ design) if targets.nnz else np.zeros((n, d))
    x = np.zeros((n, d)) if x0 is None else x0.astype(np.float64, copy=True)
    r = b - apply(x)
    p = r.copy()
    rs = np.einsum("nd,nd->n", r, r)
    stop = tol * np.maximum(np.einsum("nd,nd->n", b, b), 1e-300)
    for _ in range(steps if steps is not None else 2 * d + 10):
        if steps is None and np.all(rs <= stop):
            break
        ap = apply(p)
        den = np.einsum("nd,nd->n", p, ap)
        alpha = np.divide(rs, den, out=np.zeros(n), where=den > 0)
        x += alpha[:, None] * p
        r -= alpha[:, None] * ap
        rs_new = np.einsum("nd,nd->n", r, r)
        beta = np.divide(rs_new, rs, out=np.zeros(n), where=rs > 0)
        p = r + beta[:, None] * p
        rs = rs_new
    return x


@register
class BiasedMF(Recommender):
    """mu + b_u + b_i + p_u.q_i on explicit ratings (ALS). Scores are predicted ratings."""

    name = "biasedmf"
    config_class = BiasedMFConfig
    uses_ratings = True
    tune_grid: ClassVar[dict[str, list]] = {"factors": [32, 64], "reg": [0.05, 0.1, 0.2]}

    def _penalty(self, counts: np.ndarray) -> np.ndarray:
        """(n, d) diagonal penalties for rows with ``counts`` ratings: [reg]*f + [bias_reg]."""
        c = self.config
        scale = np.maximum(counts, 1).astype(np.float64) if c.weighted_regularization else np.ones(len(counts))
        per_dim = np.r_[np.full(c.factors, c.reg), c.bias_reg]
        return scale[:, None] * per_dim[None, :] + 1e-9

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        if train.rating is None:
            raise DataError(f"biasedmf needs explicit ratings, but {train.name!r} has no rating column")
        c = self.config
        r = train.csr("rating").astype(np.float64)
        rt = r.T.tocsr()
        mu = float(r.data.mean())
        rng = np.random.default_rng(ctx.seed if c.seed is None else c.seed)
        users = np.c_[rng.normal(0, 0.1, (r.shape[0], c.factors)), np.zeros(r.shape[0])]  # [p_u, b_u]
        items = np.c_[rng.normal(0, 0.1, (r.shape[1], c.factors)), np.zeros(r.shape[1])]  # [q_i, b_i]
        pen_u, pen_i = self._penalty(np.diff(r.indptr)), self._penalty(np.diff(rt.indptr))
        for it in range(c.iterations):
            users = self._user_step(r, mu, items, pen_u, users, c.cg_steps)
            design = np.c_[users[:, :-1], np.ones(len(users))]
            resid = rt.copy()
            resid.data -= mu + users[rt.indices, -1]
            items = ridge_rows(design, resid, pen_i, items, c.cg_steps)
            log.debug("biasedmf iteration %d done", it + 1)
        self.mu_ = np.float64(mu)
        self.item_params_ = items
        self.rating_range_ = np.array([r.data.min(), r.data.max()], np.float64)

    @staticmethod
    def _user_step(r: sp.csr_matrix, mu: float, items: np.ndarray, pen: np.ndarray,
                   x0: np.ndarray | None, steps: int | None) -> np.ndarray:
        """[p_u, b_u] for rating rows ``r`` (n, n_items) given item params [q_i, b_i]."""
        design = np.c_[items[:, :-1], np.ones(len(items))]
        resid = r.copy()
        resid.data -= mu + items[r.indices, -1]
        return ridge_rows(design, resid, pen, x0, steps)

    def user_params(self, batch: HistoryBatch) -> np.ndarray:
        """(n, factors + 1) folded-in [p_u, b_u] for the histories (their ratings)."""
        n_items = len(self.item_params_)
        if batch.ratings is None:
            filled = HistoryBatch(batch.indptr, batch.items, batch.users,
                                  np.full(len(batch.items), self.rating_range_[1], np.float32))
            r = filled.to_csr(n_items, "rating")
        else:
            r = batch.to_csr(n_items, "rating")
        r = r.astype(np.float64)
        return self._user_step(r, float(self.mu_), self.item_params_, self._penalty(np.diff(r.indptr)), None, None)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        u = self.user_params(batch)
        q = self.item_params_
        return self.mu_ + u[:, -1:] + q[None, :, -1] + u[:, :-1] @ q[:, :-1].T

    def predict(self, batch: HistoryBatch, items: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Predicted ratings, clipped to the training range.

        rows None: ``items`` (n, k) item indices per history row -> (n, k).
        rows given: pairs (rows[j], items[j]) -> (len(items),), e.g. a test set.
        """
        u = self.user_params(batch)
        q = self.item_params_
        items = np.asarray(items, np.int64)
        r_idx = (np.arange(len(batch))[:, None] if rows is None else np.asarray(rows, np.int64))
        pred = self.mu_ + u[r_idx, -1] + q[items, -1] + np.einsum("...d,...d->...", u[r_idx, :-1], q[items, :-1])
        return np.clip(pred, *self.rating_range_).astype(np.float32)

    def state(self) -> dict[str, Any]:
        return {"mu": np.asarray(self.mu_), "item_params": self.item_params_, "rating_range": self.rating_range_}

    def _load_state(self, arrays: dict[str, Any]) -> None:
        self.mu_ = np.float64(arrays["mu"])
        self.item_params_ = np.asarray(arrays["item_params"], np.float64)
        self.rating_range_ = np.asarray(arrays["rating_range"], np.float64)
