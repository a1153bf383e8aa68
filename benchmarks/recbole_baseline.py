#!/usr/bin/env python3
"""Run a RecBole model on a split written by CineSync, so both libraries see identical rows.

What it does
------------
1. Reads ``train.tsv``, ``valid.tsv`` and ``test.tsv`` (header ``user item rating timestamp``,
   external ids) from a directory written by ``cinesync data split --protocol P --out DIR``.
2. Converts them to RecBole *atomic files* and loads them through RecBole's pre-split
   ``benchmark_filename: [train, valid, test]`` mechanism, so RecBole trains, validates and tests
   on exactly these rows (no filtering, no re-splitting, no sequence augmentation of its own).

   * General models (MultiVAE, LightGCN, EASE, ...): one row per interaction. RecBole's
     full-ranking evaluation then excludes train items when scoring valid and train + valid items
     when scoring test, and the model only ever sees train: the same as CineSync's
     ``recbole-8-1-1``.
   * Sequential models (SASRec, GRU4Rec, ...): every row carries its history in an
     ``item_id_list`` field, built the way RecBole's own augmentation builds it: each train item
     (except a user's first) is a target whose history is the user's earlier train items; the
     valid target's history is the user's whole train sequence and the test target's history is
     train + the valid item (CineSync's ``loo``: test history = train + valid). Histories keep the
     newest ``--max-len`` items. RecBole does not exclude already-seen items for sequential models,
     whereas CineSync does; this script masks the user's earlier items (train for valid, train +
     valid for test) before ranking, so the numbers are comparable. ``--no-history-mask`` gives
     RecBole's own behaviour instead.
3. Trains with RecBole's Trainer (early stopping on valid NDCG@10, ``--stopping-step`` evaluations
   without improvement), reloads the best checkpoint and evaluates test with full ranking,
   topk 10, metrics NDCG, Recall and Hit.
4. Prints and writes a JSON summary: valid and test NDCG@10 / Recall@10 / Hit@10, epochs run, best
   epoch, seconds per training epoch, training sequences (rows) per second, torch threads.

Install RecBole in its own virtualenv (not CineSync's)
-------------------------------------------------------
RecBole 1.2.1 is old: it needs numpy < 2 and ``pkg_resources`` (setuptools < 81, for ray)::

    python3 -m venv /work/recbole-venv
    /work/recbole-venv/bin/pip install torch==2.13.0
    /work/recbole-venv/bin/pip install recbole==1.2.1 numpy==1.26.4 pandas==2.2.3 scipy==1.13.1
    /work/recbole-venv/bin/pip install setuptools==75.8.0

Run
---
::

    .venv/bin/cinesync data split --protocol loo --out /work/splits/loo
    .venv/bin/cinesync data split --protocol recbole-8-1-1 --out /work/splits/recbole-8-1-1
    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py /work/splits/loo SASRec \\
        --epochs 30 --hidden-size 64 --n-layers 2 --max-len 200 --loss CE --threads 2 \\
        --out results/recbole_sasrec_loo.json
    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py /work/splits/recbole-8-1-1 EASE

Any other RecBole setting can be given with ``--set key=value`` (the value is parsed as YAML).
RecBole's logs, checkpoints and the atomic files go to ``--workdir`` (a fresh temporary folder
by default). Runtime patches (done here, never in site-packages): numpy aliases removed in
numpy 1.24 that RecBole still names (``np.float``, ``np.long``), and ``torch.load`` of RecBole's own
checkpoints with ``weights_only=False`` (torch >= 2.6 defaults to ``True``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import yaml

SPLIT_PARTS = ("train", "valid", "test")
TOPK = 10
UID, IID, TIME = "user_id", "item_id", "timestamp"
ITEM_LIST = IID + "_list"  # RecBole's default LIST_SUFFIX is "_list"

# General models that train on whole user rows rather than sampled negatives.
NO_NEGATIVE_SAMPLING = {"MultiVAE", "MultiDAE", "MacridVAE", "RecVAE", "EASE", "ADMMSLIM",
                        "SLIMElastic", "NCEPLRec"}


# ----------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train and evaluate a RecBole model on a CineSync split directory "
                    "(train.tsv / valid.tsv / test.tsv), with full-ranking evaluation at 10.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("split_dir", type=Path, help="directory written by `cinesync data split`")
    parser.add_argument("model", help="RecBole model class name, e.g. SASRec, GRU4Rec, MultiVAE, "
                                      "LightGCN, EASE")
    parser.add_argument("--epochs", type=int, default=50,
                        help="epoch cap (RecBole's `epochs`); early stopping may end sooner")
    parser.add_argument("--stopping-step", type=int, default=10,
                        help="evaluations without a better valid NDCG@10 before stopping")
    parser.add_argument("--eval-every", type=int, default=1,
                        help="validate every N epochs (RecBole's `eval_step`)")
    parser.add_argument("--hidden-size", type=int, default=None,
                        help="`hidden_size` (SASRec, GRU4Rec); default: the model's own")
    parser.add_argument("--embedding-size", type=int, default=None,
                        help="`embedding_size` (GRU4Rec, LightGCN); default: the model's own")
    parser.add_argument("--n-layers", type=int, default=None,
                        help="`n_layers` (SASRec, LightGCN); default: the model's own")
    parser.add_argument("--max-len", type=int, default=200,
                        help="MAX_ITEM_LIST_LENGTH: newest history items kept (sequential models)")
    parser.add_argument("--loss", choices=("CE", "BPR"), default=None,
                        help="`loss_type` of sequential models; CE trains without negative "
                             "sampling (default: the model's own, CE for SASRec and GRU4Rec)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="`train_batch_size` (default: RecBole's 2048)")
    parser.add_argument("--lr", type=float, default=None,
                        help="`learning_rate` (default: RecBole's 0.001)")
    parser.add_argument("--eval-batch-size", type=int, default=1 << 17,
                        help="`eval_batch_size` (rows for sequential models, users x items for "
                             "general ones)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=2020, help="RecBole's `seed`")
    parser.add_argument("--no-history-mask", action="store_true",
                        help="sequential models: do not exclude the user's earlier items when "
                             "ranking (RecBole's own behaviour; CineSync excludes them)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="any RecBole config entry (YAML value); repeatable")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for atomic files, logs and checkpoints (default: a new temp dir)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON summary here")
    return parser.parse_args(argv)


def parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


# ----------------------------------------------------------------------------- compatibility


def apply_compat_patches() -> None:
    """Aliases that numpy >= 1.24 removed but RecBole 1.2.1 still uses (MRR/MAP, some layers)."""
    for name, value in (("float", float), ("int", int), ("bool", bool), ("long", np.int64)):
        if name not in np.__dict__:
            setattr(np, name, value)


def load_checkpoint(path: str, device) -> dict:
    """RecBole's checkpoints pickle its Config object, so torch >= 2.6 needs weights_only=False."""
    return torch.load(path, map_location=device, weights_only=False)


# ----------------------------------------------------------------------------- split -> atomic files


def read_split(split_dir: Path) -> dict[str, pd.DataFrame]:
    """The three TSVs, ids as strings, each user's rows in time order (ties keep file order)."""
    frames = {}
    for part in SPLIT_PARTS:
        path = split_dir / f"{part}.tsv"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: is {split_dir} a `cinesync data split` folder?")
        df = pd.read_csv(path, sep="\t", dtype={"user": str, "item": str})
        missing = {"user", "item", "timestamp"} - set(df.columns)
        if missing:
            raise SystemExit(f"{path}: missing column(s) {sorted(missing)}")
        frames[part] = df.sort_values(["user", "timestamp"], kind="stable").reset_index(drop=True)
    return frames


def split_name(split_dir: Path) -> str:
    meta = split_dir / "split.json"
    if meta.is_file():
        return json.loads(meta.read_text()).get("name", split_dir.name)
    return split_dir.name


def write_inter(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_general_atomic(frames: dict[str, pd.DataFrame], folder: Path, name: str) -> None:
    """One row per interaction: `user_id:token item_id:token timestamp:float`."""
    header = [f"{UID}:token", f"{IID}:token", f"{TIME}:float"]
    for part, df in frames.items():
        write_inter(folder / f"{name}.{part}.inter", header,
                    zip(df["user"], df["item"], df["timestamp"]))


def sequence_rows(frames: dict[str, pd.DataFrame], max_len: int) -> dict[str, list[tuple]]:
    """(user, target, timestamp, history) rows per part, with histories as CineSync defines them.

    train: every train item after a user's first, its history the earlier train items;
    valid: history = the user's train items; test: history = train + valid items.
    """
    history: dict[str, list[str]] = {}
    rows: dict[str, list[tuple]] = {part: [] for part in SPLIT_PARTS}
    for user, items, times in _per_user(frames["train"]):
        history[user] = list(items)
        for t in range(1, len(items)):
            rows["train"].append((user, items[t], times[t], items[max(0, t - max_len):t]))
    for part in ("valid", "test"):
        for user, items, times in _per_user(frames[part]):
            seen = history.setdefault(user, [])
            for item, ts in zip(items, times):
                rows[part].append((user, item, ts, seen[-max_len:]))
            # what a later part sees: valid items join the history used for test
            history[user] = seen + list(items)
    return rows


def _per_user(df: pd.DataFrame):
    for user, group in df.groupby("user", sort=False):
        yield user, group["item"].tolist(), group["timestamp"].tolist()


def write_sequential_atomic(frames: dict[str, pd.DataFrame], folder: Path, name: str,
                            max_len: int) -> int:
    """Rows with an `item_id_list:token_seq` history; returns the number of training sequences."""
    header = [f"{UID}:token", f"{IID}:token", f"{TIME}:float", f"{ITEM_LIST}:token_seq"]
    rows = sequence_rows(frames, max_len)
    for part, part_rows in rows.items():
        empty = sum(1 for r in part_rows if not r[3])
        if empty:
            raise SystemExit(f"{part}: {empty} target(s) with an empty history; sequential "
                             "models need at least one earlier item")
        write_inter(folder / f"{name}.{part}.inter", header,
                    ((u, i, ts, " ".join(h)) for u, i, ts, h in part_rows))
    return len(rows["train"])


# ----------------------------------------------------------------------------- RecBole config


def build_config_dict(args: argparse.Namespace, model_type, data_root: Path, workdir: Path,
                      overrides: dict) -> dict:
    from recbole.utils import ModelType

    sequential = model_type == ModelType.SEQUENTIAL
    load_cols = [UID, IID, TIME] + ([ITEM_LIST] if sequential else [])
    config = {
        "data_path": str(data_root),
        "benchmark_filename": list(SPLIT_PARTS),
        "load_col": {"inter": load_cols},
        "USER_ID_FIELD": UID, "ITEM_ID_FIELD": IID, "TIME_FIELD": TIME,
        "eval_args": {"group_by": "user", "order": "TO", "mode": "full",
                      "split": {"RS": [0.8, 0.1, 0.1]}},  # split is ignored with benchmark files
        "metrics": ["NDCG", "Recall", "Hit"],
        "topk": [TOPK],
        "valid_metric": f"NDCG@{TOPK}",
        "epochs": args.epochs,
        "stopping_step": args.stopping_step,
        "eval_step": args.eval_every,
        "eval_batch_size": args.eval_batch_size,
        "seed": args.seed,
        "reproducibility": True,
        "use_gpu": False,
        "show_progress": False,
        "checkpoint_dir": str(workdir / "saved"),
    }
    if sequential:
        config["alias_of_item_id"] = [ITEM_LIST]
        config["MAX_ITEM_LIST_LENGTH"] = args.max_len
    optional = {"hidden_size": args.hidden_size, "embedding_size": args.embedding_size,
                "n_layers": args.n_layers, "loss_type": args.loss,
                "train_batch_size": args.batch_size, "learning_rate": args.lr}
    config.update({k: v for k, v in optional.items() if v is not None})

    loss = args.loss or _model_default(args.model, "loss_type")
    if (sequential and loss == "CE") or args.model in NO_NEGATIVE_SAMPLING:
        config["train_neg_sample_args"] = None
    config.update(overrides)
    return config


def _model_default(model: str, key: str):
    import recbole

    path = Path(recbole.__file__).parent / "properties" / "model" / f"{model}.yaml"
    return (yaml.safe_load(path.read_text()) or {}).get(key) if path.is_file() else None


# ----------------------------------------------------------------------------- trainer


class BenchmarkTrainerMixin:
    """Adds epoch timing, a valid curve and optional seen-item masking to a RecBole trainer."""

    def setup_benchmark(self, mask_history: bool) -> None:
        self.mask_history = mask_history
        self.epoch_seconds: list[float] = []
        self.valid_curve: list[tuple[int, float]] = []
        self._seen = None

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        start = time.perf_counter()
        loss = super()._train_epoch(train_data, epoch_idx, loss_func=loss_func,
                                    show_progress=show_progress)
        self.epoch_seconds.append(time.perf_counter() - start)
        return loss

    def record_valid(self, epoch_idx: int, valid_score: float) -> None:
        self.valid_curve.append((epoch_idx + 1, float(valid_score)))

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if load_best_model:
            checkpoint = load_checkpoint(model_file or self.saved_model_file, self.device)
            self.model.load_state_dict(checkpoint["state_dict"])
            self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self._seen = getattr(eval_data, "seen_items", None) if self.mask_history else None
        try:
            return super().evaluate(eval_data, load_best_model=False,
                                    show_progress=show_progress)
        finally:
            self._seen = None

    def _full_sort_batch_eval(self, batched_data):
        interaction, scores, positive_u, positive_i = super()._full_sort_batch_eval(batched_data)
        if self._seen is not None:
            users = interaction[self.config["USER_ID_FIELD"]].cpu().numpy()
            rows, cols = self._seen[users].nonzero()
            scores[torch.from_numpy(rows).long(), torch.from_numpy(cols).long()] = -math.inf
        return interaction, scores, positive_u, positive_i


def make_trainer(config, model, mask_history: bool):
    from recbole.utils import get_trainer

    base = get_trainer(config["MODEL_TYPE"], config["model"])
    cls = type(f"Benchmark{base.__name__}", (BenchmarkTrainerMixin, base), {})
    trainer = cls(config, model)
    trainer.setup_benchmark(mask_history)
    return trainer


def seen_matrix(dataset, frames: list[pd.DataFrame]) -> sp.csr_matrix:
    """(users x items) 0/1 matrix of the given parts' interactions, in RecBole's internal ids."""
    df = pd.concat(frames, ignore_index=True)
    users = dataset.token2id(UID, df["user"].to_numpy())
    items = dataset.token2id(IID, df["item"].to_numpy())
    ones = np.ones(len(df), dtype=np.float32)
    return sp.csr_matrix((ones, (users, items)), shape=(dataset.user_num, dataset.item_num))


# ----------------------------------------------------------------------------- main


def metrics_at_k(result) -> dict:
    if not result:
        return {}
    return {f"{name}@{TOPK}": float(result[f"{name}@{TOPK}"]) for name in ("ndcg", "recall", "hit")}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    overrides = parse_overrides(args.overrides)
    apply_compat_patches()

    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import ModelType, get_model, init_logger, init_seed
    import recbole

    split_dir = args.split_dir.resolve()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="recbole-bench-"))).resolve()
    out_path = args.out.resolve() if args.out else None
    protocol = split_name(split_dir)
    name = "cinesync_" + "".join(c if c.isalnum() else "_" for c in protocol)
    data_root = workdir / "data"
    (data_root / name).mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # RecBole writes log/ and log_tensorboard/ under the working directory

    t0 = time.perf_counter()
    model_type = get_model(args.model).type
    sequential = model_type == ModelType.SEQUENTIAL
    frames = read_split(split_dir)
    if sequential:
        write_sequential_atomic(frames, data_root / name, name, args.max_len)
    else:
        write_general_atomic(frames, data_root / name, name)

    config = Config(model=args.model, dataset=name,
                    config_dict=build_config_dict(args, model_type, data_root, workdir, overrides))
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    torch.set_num_threads(args.threads)

    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    mask_history = sequential and not args.no_history_mask
    if mask_history:  # RecBole masks these itself for general models
        valid_data.seen_items = seen_matrix(dataset, [frames["train"]])
        test_data.seen_items = seen_matrix(dataset, [frames["train"], frames["valid"]])
    data_seconds = time.perf_counter() - t0

    init_seed(config["seed"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = make_trainer(config, model, mask_history)
    t1 = time.perf_counter()
    trainer.fit(train_data, valid_data, verbose=True, saved=True, show_progress=False,
                callback_fn=trainer.record_valid)
    fit_seconds = time.perf_counter() - t1
    test_result = trainer.evaluate(test_data, load_best_model=True)

    train_rows = len(train_data._dataset)
    epochs_run = len(trainer.epoch_seconds)
    curve = trainer.valid_curve
    best_epoch = max(curve, key=lambda e: e[1])[0] if curve else None  # first maximum, 1-based
    stopped_early = epochs_run < trainer.epochs
    sec_per_epoch = float(np.mean(trainer.epoch_seconds)) if trainer.epoch_seconds else None
    summary = {
        "library": "RecBole",
        "recbole_version": recbole.__version__,
        "torch_version": torch.__version__,
        "model": args.model,
        "model_type": model_type.name.lower(),
        "protocol": protocol,
        "split_dir": str(split_dir),
        "valid": metrics_at_k(trainer.best_valid_result),
        "test": metrics_at_k(test_result),
        "epochs_run": epochs_run,
        "epoch_cap": trainer.epochs,
        "best_epoch": best_epoch,
        "stopped_early": stopped_early,
        # still improving within the last `stopping_step` evaluations when the cap was reached
        "cut_off_by_epoch_cap": (model_type != ModelType.TRADITIONAL and not stopped_early
                                 and bool(curve)
                                 and curve[-1][0] - best_epoch < args.stopping_step * args.eval_every),
        "seconds_per_epoch": sec_per_epoch,
        "epoch_seconds": [round(s, 3) for s in trainer.epoch_seconds],
        "train_sequences": train_rows,
        "train_sequences_per_second": train_rows / sec_per_epoch if sec_per_epoch else None,
        "torch_threads": torch.get_num_threads(),
        "history_mask": mask_history,
        "valid_curve_ndcg@10": curve,
        "data_seconds": round(data_seconds, 2),
        "fit_seconds": round(fit_seconds, 2),
        "n_users": dataset.user_num - 1,
        "n_items": dataset.item_num - 1,
        "config": {k: _jsonable(config[k]) for k in (
            "hidden_size", "embedding_size", "n_layers", "n_heads", "inner_size",
            "loss_type", "train_neg_sample_args", "train_batch_size", "learning_rate",
            "stopping_step", "eval_step", "seed", "reg_weight", "dropout_prob",
            "hidden_dropout_prob", "attn_dropout_prob") if config[k] is not None},
        "max_item_list_length": config["MAX_ITEM_LIST_LENGTH"] if sequential else None,
        "workdir": str(workdir),
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if out_path:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(text + "\n")
    return summary


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


if __name__ == "__main__":
    main(sys.argv[1:])
