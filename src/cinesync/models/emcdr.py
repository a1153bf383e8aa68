"""EMCDR-style cross-domain recommender (after Man et al. 2017, "Cross-Domain Recommendation: An
Embedding and Mapping Approach"), blended with a joint model.

For each ordered pair of the two cross domains (movie -> tv and tv -> movie), learned on the training
users who rated items of both ("overlapping users"):

* latent (EMCDR proper): per-domain item factors ``V_d`` (truncated SVD of that domain's
  user x item matrix, f factors; a history folds in as ``u_d = h_d V_d``) and an MLP
  ``g: u_s -> u_t`` (one tanh hidden layer, MSE, Adam, full batch, NumPy) trained on overlapping users;
  target-item scores ``g(h_s V_s) V_t^T``.
* bridge: the linear mapping in item space, ``W_st = (X_s^T X_s + l2_bridge I)^-1 X_s^T X_t``
  (ridge regression of target-domain rows on source-domain rows, closed form).
* joint: EASE over all items (movie, tv and other) on the merged matrix.

Each component is standardised per row within each domain's items (z-score) and blended as
``w_joint * joint + w_bridge * bridge + w_latent * latent`` (bridge / latent are 0 for rows without
source-domain history and for items outside the two cross domains); the blend is re-standardised per
domain and mapped back onto the joint scores' per-user mean and spread in that domain, so the order
within a domain is the blend's while films vs series keep the joint model's relative calibration. A movie
history therefore yields TV scores from the mapping; a mixed history adds the in-domain joint signal.

Degrades sensibly: with a single domain, or no overlapping users between the two, no mapping is learned
and the model is its joint EASE scorer. Scoring is NumPy only (the MLP's weights are state arrays), so
save/load round trips give identical scores.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

import numpy as np
import pydantic
from scipy.linalg import cho_factor, cho_solve

from cinesync.data.dataset import DOMAINS, Interactions
from cinesync.data.history import HistoryBatch
from cinesync.extras import from_import_error
from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.ease import EASE
from cinesync.models.registry import register

try:
    from sklearn.utils.extmath import randomized_svd
except ImportError as e:
    raise from_import_error(e, "EMCDR (cinesync.models.emcdr)") from None

log = logging.getLogger(__name__)

CROSS = ("movie", "tv")
PAIRS = (("movie", "tv"), ("tv", "movie"))
COMPONENTS = ("joint", "bridge", "latent")


class EMCDRConfig(ModelConfig):
    """l2_joint / joint_solver: the joint EASE. l2_bridge: ridge penalty of the item-space mapping.
    factors: per-domain SVD factors. hidden / epochs / lr / weight_decay: the mapping MLP.
    w_joint / w_bridge / w_latent: blend weights of the z-scored components. directions: which mappings to
    learn ("movie-tv" alone is enough to recommend series from films). seed: None = FitContext seed."""

    l2_joint: float = pydantic.Field(500.0, gt=0.0)
    joint_solver: Literal["auto", "primal", "dual"] = "auto"
    l2_bridge: float = pydantic.Field(100.0, gt=0.0)
    factors: int = pydantic.Field(32, ge=1)
    hidden: int = pydantic.Field(128, ge=1)
    epochs: int = pydantic.Field(300, ge=1)
    lr: float = pydantic.Field(0.01, gt=0.0)
    weight_decay: float = pydantic.Field(1e-4, ge=0.0)
    w_joint: float = pydantic.Field(1.0, ge=0.0)
    w_bridge: float = pydantic.Field(0.5, ge=0.0)
    w_latent: float = pydantic.Field(0.25, ge=0.0)
    directions: Literal["both", "movie-tv", "tv-movie"] = "both"
    seed: int | None = None


def block_stats(scores: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row and domain code 0..2: (mean, std), each (n, 3) float64 over that domain's columns of (n, m)
    ``scores`` (0 / 1 for a domain without columns)."""
    n = scores.shape[0]
    loc, scale = np.zeros((n, len(DOMAINS))), np.ones((n, len(DOMAINS)))
    for d in np.unique(codes):
        blk = scores[:, codes == d].astype(np.float64)
        loc[:, d], scale[:, d] = blk.mean(axis=1), blk.std(axis=1)
    return loc, scale


def zscore_blocks(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per row, standardise (n, m) ``scores`` within each domain's columns (codes (m,) int in 0..2); new
    float32 array. A row that is constant over a block gets 0 there."""
    loc, scale = block_stats(scores, codes)
    sd = scale[:, codes]
    return np.where(sd > 1e-12, (scores - loc[:, codes]) / np.maximum(sd, 1e-12), 0.0).astype(np.float32)


def _train_mlp(a: np.ndarray, b: np.ndarray, cfg: EMCDRConfig, seed: int) -> dict[str, np.ndarray]:
    """Fit g(a) ~ b, a (n, fs), b (n, ft): one tanh hidden layer, mean squared error, full-batch Adam
    (NumPy, float64, seeded init; L2 ``weight_decay`` on the weight matrices). Returns float32 weights
    including the input standardisation and output scale."""
    rng = np.random.default_rng(seed)
    mean, std = a.mean(0), a.std(0) + 1e-6
    scale = float(b.std()) + 1e-6
    x, y = (a - mean) / std, b / scale
    fs, ft, hdim = a.shape[1], b.shape[1], cfg.hidden
    params = [rng.standard_normal((fs, hdim)) / np.sqrt(fs), np.zeros(hdim),
              rng.standard_normal((hdim, ft)) / np.sqrt(hdim), np.zeros(ft)]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, cfg.epochs + 1):
        w1, b1, w2, b2 = params
        h = np.tanh(x @ w1 + b1)
        err = h @ w2 + b2 - y
        d_out = 2.0 * err / err.size
        dz = (d_out @ w2.T) * (1.0 - h * h)
        grads = [x.T @ dz + cfg.weight_decay * w1, dz.sum(0), h.T @ d_out + cfg.weight_decay * w2, d_out.sum(0)]
        for i, g in enumerate(grads):
            m1[i] = beta1 * m1[i] + (1 - beta1) * g
            m2[i] = beta2 * m2[i] + (1 - beta2) * g * g
            params[i] = params[i] - cfg.lr * (m1[i] / (1 - beta1**step)) / (np.sqrt(m2[i] / (1 - beta2**step)) + eps)
        if step in (1, cfg.epochs):
            log.debug("emcdr mlp step %d: mse %.4f", step, float((err**2).mean()))
    f32 = (lambda v: np.asarray(v, np.float32))
    return {"w1": f32(params[0]), "b1": f32(params[1]), "w2": f32(params[2]), "b2": f32(params[3]),
            "mean": f32(mean), "std": f32(std), "scale": np.float32(scale)}


@register
class EMCDR(Recommender):
    """Cross-domain embedding + mapping (EMCDR) and item-space bridge, blended with joint EASE."""

    name = "emcdr"
    config_class = EMCDRConfig
    family: ClassVar[str] = "crossdomain"
    tune_grid: ClassVar[dict[str, list]] = {"l2_bridge": [30.0, 100.0, 300.0, 1000.0], "w_latent": [0.0, 0.5]}

    # ---- fit ---------------------------------------------------------
    def _joint(self, train: Interactions, ctx: FitContext) -> EASE:
        cfg = self.config
        given = ctx.joint  # an EASE already fitted on the same training data (same l2 / solver)
        if (isinstance(given, EASE) and given.n_items_ == train.n_items and given.config.l2 == cfg.l2_joint
                and given.config.solver == cfg.joint_solver and given.config.max_items is None
                and given.config.sparse_k is None):
            log.debug("emcdr: reusing the fitted joint EASE (l2=%g)", cfg.l2_joint)
            return given
        return EASE(l2=cfg.l2_joint, solver=cfg.joint_solver).fit(train, ctx)

    def _fit(self, train: Interactions, ctx: FitContext) -> None:
        cfg = self.config
        seed = ctx.seed if cfg.seed is None else cfg.seed
        self.joint_ = self._joint(train, ctx)
        codes = np.asarray([DOMAINS.index(d) for d in train.catalog.domain_codes], np.int8)
        self.domain_ = codes
        x = train.csr().astype(np.float64).tocsc()
        self.factors_: dict[str, np.ndarray] = {}
        for d in CROSS:
            cols = np.flatnonzero(codes == DOMAINS.index(d))
            f = min(cfg.factors, len(cols) - 1, x.shape[0] - 1)
            if f >= 1 and x[:, cols].nnz:
                _, _, vt = randomized_svd(x[:, cols], f, random_state=seed)
                self.factors_[d] = np.ascontiguousarray(vt.T, dtype=np.float32)  # (n_d, f)
        self.bridges_: dict[tuple[str, str], np.ndarray] = {}
        self.mlps_: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        for s, t in PAIRS:
            s_cols, t_cols = self._cols(s), self._cols(t)
            if cfg.directions not in ("both", f"{s}-{t}") or not len(s_cols) or not len(t_cols):
                continue
            xs, xt = x[:, s_cols].tocsr(), x[:, t_cols].tocsr()
            both = (np.diff(xs.indptr) > 0) & (np.diff(xt.indptr) > 0)
            if both.sum() < 2:
                log.info("emcdr: %d overlapping %s/%s users; no %s -> %s mapping", both.sum(), s, t, s, t)
                continue
            xs, xt = xs[both], xt[both]
            gram = (xs.T @ xs).toarray()
            gram[np.diag_indices_from(gram)] += cfg.l2_bridge
            self.bridges_[s, t] = cho_solve(cho_factor(gram), (xs.T @ xt).toarray()).astype(np.float32)
            if s in self.factors_ and t in self.factors_:
                a = np.asarray(xs @ self.factors_[s], np.float64)
                b = np.asarray(xt @ self.factors_[t], np.float64)
                self.mlps_[s, t] = _train_mlp(a, b, cfg, seed)
            log.info("emcdr: %s -> %s mapping learned on %d overlapping users", s, t, int(both.sum()))

    def _cols(self, domain: str) -> np.ndarray:
        return np.flatnonzero(self.domain_ == DOMAINS.index(domain))

    # ---- score -------------------------------------------------------
    def components(self, batch: HistoryBatch) -> dict[str, np.ndarray]:
        """{"joint", "bridge", "latent"} -> (n, n_items) float32 per-domain z-scored component scores, plus
        "loc" / "scale" (n, 3): the joint scores' per-row mean / std in each domain (see ``blend``)."""
        n, m = len(batch), len(self.domain_)
        raw = self.joint_.score(batch)
        loc, scale = block_stats(raw, self.domain_)
        joint = zscore_blocks(raw, self.domain_)
        bridge, latent = np.zeros((n, m), np.float32), np.zeros((n, m), np.float32)
        h = batch.to_csr(m)
        for (s, t), w in self.bridges_.items():
            s_cols, t_cols = self._cols(s), self._cols(t)
            hs = h[:, s_cols].tocsr()
            has = np.diff(hs.indptr) > 0
            if not has.any():
                continue
            bridge[:, t_cols] = zscore_blocks(np.asarray(hs @ w), np.zeros(len(t_cols), np.int8))  # 0 if no source
            if (s, t) in self.mlps_:  # rows without source history stay 0 (g(0) is not a user)
                p = self.mlps_[s, t]
                a = (np.asarray(hs @ self.factors_[s], np.float32) - p["mean"]) / p["std"]
                u = (np.tanh(a @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]) * p["scale"]
                z = zscore_blocks(u @ self.factors_[t].T, np.zeros(len(t_cols), np.int8))
                z[~has] = 0.0
                latent[:, t_cols] = z
        return {"joint": joint, "bridge": bridge, "latent": latent, "loc": loc, "scale": scale}

    def blend(self, comps: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
        """(n, n_items) scores: the weighted sum of the z-scored components, re-standardised per domain and
        put back on the joint model's per-user location and spread in that domain. Within a domain the
        order is the blend's; across domains the joint model's calibration is kept (weights joint=1,
        others 0 give exactly the joint scores' order)."""
        codes = self.domain_
        out = np.zeros_like(comps["joint"])
        for k in COMPONENTS:
            if weights.get(k, 0.0):
                out += np.float32(weights[k]) * comps[k]
        sd = np.maximum(comps["scale"], 1e-6)[:, codes]
        return (zscore_blocks(out, codes) * sd + comps["loc"][:, codes]).astype(np.float32)

    def weights(self) -> dict[str, float]:
        c = self.config
        return {"joint": c.w_joint, "bridge": c.w_bridge, "latent": c.w_latent}

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        return self.blend(self.components(batch), self.weights())

    def with_weights(self, **weights: float) -> EMCDR:
        """A copy sharing this model's fitted arrays with other blend weights (w_joint=..., ...)."""
        other = EMCDR(self.config, **weights)
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k != "config"})
        return other

    # ---- persistence -------------------------------------------------
    def state(self) -> dict[str, Any]:
        st: dict[str, Any] = {f"joint.{k}": v for k, v in self.joint_.state().items()}
        st["domain"] = self.domain_
        for d, v in self.factors_.items():
            st[f"factors.{d}"] = v
        for (s, t), w in self.bridges_.items():
            st[f"bridge.{s}.{t}"] = w
        for (s, t), p in self.mlps_.items():
            st.update({f"mlp.{s}.{t}.{k}": v for k, v in p.items()})
        return st

    def _load_state(self, arrays: dict[str, Any]) -> None:
        cfg = self.config
        self.domain_ = np.asarray(arrays["domain"], np.int8)
        joint = {k[len("joint."):]: v for k, v in arrays.items() if k.startswith("joint.")}
        self.joint_ = EASE(l2=cfg.l2_joint, solver=cfg.joint_solver).load_state(joint, len(self.domain_))
        self.factors_ = {k.split(".")[1]: np.asarray(v, np.float32) for k, v in arrays.items()
                         if k.startswith("factors.")}
        self.bridges_ = {}
        self.mlps_ = {}
        for k, v in arrays.items():
            parts = k.split(".")
            if parts[0] == "bridge":
                self.bridges_[parts[1], parts[2]] = np.asarray(v, np.float32)
            elif parts[0] == "mlp":
                self.mlps_.setdefault((parts[1], parts[2]), {})[parts[3]] = (
                    np.float32(v) if parts[3] == "scale" else np.asarray(v, np.float32))


__all__ = ["EMCDR", "EMCDRConfig", "zscore_blocks"]
