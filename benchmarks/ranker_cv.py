"""Ensemble ranker recipes compared on validation users only (nested cross-validation).

The validation users are split into ``--outer`` folds. For each fold the ranker (with its own
3-fold inner cross-validation, inner pools and context choice, exactly as ``cinesync
ensemble`` trains it) is fitted on the validation targets of the other folds, and the held-out
users' NDCG@10 over the candidates is scored. Each base scale is fitted once and scored with
and without bagging (the same fit with and without its fold models). Test data is never read,
so this is where recipe defaults are chosen.

    python benchmarks/ranker_cv.py --protocol loo --members ease,rp3beta,itemknn,als,seqrules
    python benchmarks/ranker_cv.py --protocol recbole-8-1-1 \
        --members ease,rp3beta,itemknn,als,multvae,twotower,seqrules --scales auto,0.25 --json rb-cv.json

Member scores come from the ``cinesync ensemble`` cache (``~/.cache/cinesync/ensemble``) when
present, and are fitted (and cached) otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cinesync.data.loaders import load_dataset
from cinesync.data.protocols import make_split
from cinesync.errors import CineSyncError
from cinesync.eval.stats import mean_ci, paired_test
from cinesync.experiments.ensemble import inner_pools
from cinesync.experiments.members import member_scores
from cinesync.metrics.candidates import candidate_metrics
from cinesync.models.ensemble.augment import augment_for
from cinesync.models.ensemble.combiner import Pool, apply_combiner, base_scales, fit_combiner
from cinesync.models.ensemble.features import ItemStats
from cinesync.models.ensemble.ranker import user_folds
from cinesync.models.registry import model_class

log = logging.getLogger("ranker_cv")
K = 10


def run(protocol: str, members: list[str], scales: list[float | str], outer: int, seed: int,
        dataset: str, path: str | None, cache_dir: str | None, n_candidates: int = 100,
        max_rounds: int = 600) -> dict:
    split = make_split(protocol, load_dataset(dataset, path), seed=seed)
    scored = [member_scores(split, m, {}, seed, True, cache_dir) for m in members]
    extra = inner_pools(split, scored, augment_for(split), n_candidates, seed, cache_dir)
    vh, vt, _, _ = split.valid_queries()
    vpool = Pool.build([m.valid for m in scored], vh, ItemStats.from_train(split.train), n_candidates)
    labels = vpool.cands.labels(vt)
    n_targets = np.diff(vt.indptr)
    held_ndcg: dict[str, list[np.ndarray]] = {}
    chosen: dict[str, list[float]] = {}
    t_all = time.perf_counter()
    for j, (fit_rows, held_rows) in enumerate(user_folds(vpool.cands, labels, outer, seed=seed + 7)):
        keep = np.zeros(vt.shape[0])
        keep[fit_rows] = 1.0
        targets = sp.csr_matrix(sp.diags(keep) @ sp.csr_matrix(vt))
        targets.eliminate_zeros()  # the held-out users' validation targets are invisible to the fit
        for scale in scales:
            t0 = time.perf_counter()
            state = fit_combiner("ranker", vpool, targets, seed=seed, context="auto", extra=extra,
                                 base_scale=scale, bag=True, max_rounds=max_rounds)
            single = {k: v for k, v in state.items() if k != "bag_texts"}
            for name, s in ((f"scale {scale}", single), (f"scale {scale} + bagging", state)):
                nd = candidate_metrics(vpool.cands, apply_combiner(s, vpool), labels, n_targets, K)[f"ndcg@{K}"]
                held_ndcg.setdefault(name, []).append(nd[held_rows])
            chosen.setdefault(f"scale {scale}", []).append(float(state["base_scale"]))
            log.info("outer fold %d/%d, base scale %s (chose %s): held-out ndcg@%d %.4f, bagged %.4f (%.0fs)",
                     j + 1, outer, scale, state["base_scale"], K, np.nanmean(held_ndcg[f"scale {scale}"][-1]),
                     np.nanmean(held_ndcg[f"scale {scale} + bagging"][-1]), time.perf_counter() - t0)
    values = {k: np.concatenate(v) for k, v in held_ndcg.items()}
    ref_name = next(iter(values))
    rows = []
    for name, v in values.items():
        m, lo, hi = mean_ci(v, seed=seed)
        test = paired_test(v, values[ref_name]) if name != ref_name else {"wilcoxon_p": float("nan"),
                                                                          "ttest_p": float("nan")}
        rows.append({"variant": name, f"ndcg@{K}": m, "ci": [lo, hi],
                     "diff_vs_first": float(np.nanmean(v) - np.nanmean(values[ref_name])),
                     "wilcoxon_p": test["wilcoxon_p"], "ttest_p": test["ttest_p"],
                     "chosen_scales": chosen.get(name.removesuffix(" + bagging"))})
    return {"protocol": protocol, "members": members, "outer_folds": outer, "seed": seed,
            "n_held_out_users": int(len(values[ref_name])), "rows": rows,
            "total_seconds": time.perf_counter() - t_all}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--protocol", default="loo", help="loo | recbole-8-1-1 | temporal")
    ap.add_argument("--members", default="ease,rp3beta,itemknn,als,seqrules", help="comma-separated member models")
    ap.add_argument("--scales", default="auto", help="comma-separated base scales (numbers >= 0 or auto)")
    ap.add_argument("--outer", type=int, default=3, help="outer folds over the validation users (>= 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--candidates", type=int, default=100, help="top-N per member in the candidate union")
    ap.add_argument("--max-rounds", type=int, default=600, help="the ranker's boosting-round cap")
    ap.add_argument("--dataset", default="ml-latest-small")
    ap.add_argument("--path", default=None, help="local zip/folder/file for --dataset")
    ap.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "cinesync" / "ensemble"))
    ap.add_argument("--json", default=None, help="write the results JSON here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for name in ("cinesync.models.ensemble.ranker", "cinesync.models.ensemble.combiner"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        scales: list[float | str] = []
        for raw in args.scales.split(","):
            value: float | str = raw.strip() if raw.strip() == "auto" else float(raw)
            base_scales(value)  # validates
            scales.append(value)
        if args.outer < 2:
            raise ValueError(f"--outer must be >= 2, got {args.outer}")
        if min(args.candidates, args.max_rounds) < 1:
            raise ValueError("--candidates and --max-rounds must be positive")
        members = [m.strip().lower() for m in args.members.split(",") if m.strip()]
        if not members:
            raise ValueError("--members needs at least one model name")
        for name in members:
            model_class(name)  # unknown names fail before any data is read
        result = run(args.protocol, members, scales, args.outer, args.seed, args.dataset, args.path, args.cache_dir,
                     args.candidates, args.max_rounds)
    except (CineSyncError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{result['protocol']}: held-out validation NDCG@{K} over candidates, {result['outer_folds']} outer "
          f"folds, {result['n_held_out_users']} users (p: paired, vs the first row)")
    print(f"| variant | NDCG@{K} [95% CI] | diff vs first | Wilcoxon p | t-test p | scales chosen |")
    print("|---|---|---|---|---|---|")
    for r in result["rows"]:
        print(f"| {r['variant']} | {r[f'ndcg@{K}']:.4f} [{r['ci'][0]:.4f}, {r['ci'][1]:.4f}] | "
              f"{r['diff_vs_first']:+.4f} | {r['wilcoxon_p']:.2g} | {r['ttest_p']:.2g} | "
              f"{', '.join(f'{s:g}' for s in r['chosen_scales'] or [])} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
