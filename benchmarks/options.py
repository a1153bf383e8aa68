"""Training options of the neural models, each against its model's plain recipe on one split.

Every variant trains with the same seed and epoch budget; the table shows valid and test
NDCG@10 / Recall@10 (95 % bootstrap CIs over users), the paired p-value of test NDCG@10 against
the base recipe (Wilcoxon signed-rank) and the fit time. Choose options by the valid column: the
test column is reported, never used to pick.

    python benchmarks/options.py --suite sasrec --epochs 8 --json results/options-sasrec.json
    python benchmarks/options.py --suite twotower --json results/options-twotower.json
    python benchmarks/options.py --model sasrec --protocol loo --variant 'ls=label_smoothing:0.1'
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cinesync.data.loaders import load_dataset
from cinesync.data.protocols import make_split
from cinesync.eval.runner import fit_model, rank_split
from cinesync.eval.stats import mean_ci, paired_test
from cinesync.metrics import ranking_metrics

log = logging.getLogger("options")

#: name -> (model, protocol, {variant: config overrides}); "base" is the model's default recipe
SUITES: dict[str, tuple[str, str, dict[str, dict[str, Any]]]] = {
    "sasrec": ("sasrec", "loo", {
        "base (full-softmax CE)": {},
        "label smoothing 0.1": {"label_smoothing": 0.1},
        "contrastive (CL4SRec, w=0.1)": {"contrastive_weight": 0.1},
        "multi-task genres, uncertainty weighting": {"genre_weight": 1.0, "uncertainty": True},
    }),
    "twotower": ("twotower", "recbole-8-1-1", {
        "base (in-batch softmax + logQ)": {},
        "hard negatives (4 mined of top-100)": {"hard_negatives": 4},
        "contrastive user tower (w=0.1)": {"contrastive_weight": 0.1},
        "no logQ correction": {"logq": False},
    }),
}


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """'name=key:value,key:value' -> (name, {key: value}); values parsed as JSON when they can be."""
    if "=" not in text:
        raise SystemExit(f"--variant {text!r}: expected NAME=key:value[,key:value]")
    name, body = text.split("=", 1)
    cfg: dict[str, Any] = {}
    for part in filter(None, body.split(",")):
        if ":" not in part:
            raise SystemExit(f"--variant {text!r}: {part!r} is not key:value")
        key, value = part.split(":", 1)
        try:
            cfg[key] = json.loads(value)
        except json.JSONDecodeError:
            cfg[key] = value
    return name, cfg


def metrics(model: Any, split: Any, part: str) -> dict[str, np.ndarray]:
    ranked = rank_split(model, split, part, 10)
    return ranking_metrics(ranked.top, ranked.targets, [10])


def run(model_name: str, protocol: str, variants: dict[str, dict[str, Any]], common: dict[str, Any],
        seed: int) -> list[dict[str, Any]]:
    split = make_split(protocol, load_dataset("ml-latest-small"), seed=seed)
    rows, base_test = [], None
    for i, (name, overrides) in enumerate(variants.items()):
        cfg = {**common, **overrides}
        log.info("[%d/%d] %s %s", i + 1, len(variants), model_name, cfg)
        model, fit_s = fit_model(model_name, cfg, split, seed, progress=True)
        valid, test = metrics(model, split, "valid"), metrics(model, split, "test")
        row: dict[str, Any] = {"variant": name, "config": cfg, "fit_seconds": round(fit_s, 1)}
        for part, per_user in (("valid", valid), ("test", test)):
            for m in ("ndcg@10", "recall@10"):
                mean, lo, hi = mean_ci(per_user[m], seed=seed)
                row[f"{part} {m}"] = {"mean": float(mean), "ci": [float(lo), float(hi)]}
        if base_test is None:
            base_test = test["ndcg@10"]
        else:
            row["p vs base (test ndcg@10)"] = float(paired_test(test["ndcg@10"], base_test)["wilcoxon_p"])
        rows.append(row)
        log.info("%s: valid ndcg@10 %.4f, test ndcg@10 %.4f, fit %.0fs", name, row["valid ndcg@10"]["mean"],
                 row["test ndcg@10"]["mean"], fit_s)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = ["variant", "valid ndcg@10", "test ndcg@10", "test recall@10", "p vs base", "fit s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    def cell(r: dict[str, Any], k: str) -> str:
        return f"{r[k]['mean']:.4f} ±{(r[k]['ci'][1] - r[k]['ci'][0]) / 2:.4f}"

    for r in rows:
        p = r.get("p vs base (test ndcg@10)")
        lines.append(f"| {r['variant']} | {cell(r, 'valid ndcg@10')} | {cell(r, 'test ndcg@10')} | "
                     f"{cell(r, 'test recall@10')} | {'—' if p is None else f'{p:.3g}'} | {r['fit_seconds']:.0f} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.2))
    y = np.arange(len(rows))
    for off, part, color in ((-0.18, "valid", "#8aa"), (0.18, "test", "#268")):
        mean = [r[f"{part} ndcg@10"]["mean"] for r in rows]
        err = [[m - r[f"{part} ndcg@10"]["ci"][0] for m, r in zip(mean, rows, strict=True)],
               [r[f"{part} ndcg@10"]["ci"][1] - m for m, r in zip(mean, rows, strict=True)]]
        ax.barh(y + off, mean, height=0.34, xerr=err, color=color, label=part)
    ax.set_yticks(y, [r["variant"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("NDCG@10 (95 % CI)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=sorted(SUITES), help="a predefined set of variants")
    ap.add_argument("--model", help="model name (with --variant, instead of --suite)")
    ap.add_argument("--protocol", help="protocol (default: the suite's)")
    ap.add_argument("--variant", action="append", default=[], help="NAME=key:value[,key:value] (repeatable)")
    ap.add_argument("--epochs", type=int, help="epoch budget for every variant (default: the model's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the rows here (a .png plot beside it)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.suite:
        model_name, protocol, variants = SUITES[args.suite]
    elif args.model and args.variant:
        model_name, protocol, variants = args.model, args.protocol or "loo", {"base": {}}
    else:
        ap.error("give --suite, or --model with one or more --variant")
    variants = {**variants, **dict(parse_variant(v) for v in args.variant)}
    common = {"epochs": args.epochs} if args.epochs else {}
    rows = run(model_name, args.protocol or protocol, variants, common, args.seed)
    title = f"{model_name} options · {args.protocol or protocol} · ml-latest-small · seed {args.seed}"
    print(f"\n{title}" + (f" · {args.epochs} epochs" if args.epochs else "") + "\n\n" + table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"title": title, "rows": rows}, indent=2))
        plot(rows, title, args.json.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
