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
    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py /work/splits/recbole-8-1-1 EASE
    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py /work/splits/recbole-8-1-1 \\
        MultiVAE --epochs 300 --time-budget-min 8 --out /tmp/recbole_multivae.json
    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py /work/splits/loo SASRec \\
        --epochs 200 --hidden-size 64 --n-layers 2 --max-len 200 --loss CE --threads 2 \\
        --cache-dataset --workdir /tmp/rb-loo --out /tmp/recbole_sasrec_loo.json
    # timing only: 3 epochs of 1 batch each, seconds per full epoch extrapolated
    /work/recbole-venv/bin/python benchmarks/recbole_baseline.py /work/splits/loo SASRec \\
        --hidden-size 64 --n-layers 2 --max-len 200 --loss CE --threads 2 \\
        --epochs 3 --max-batches 1 --cache-dataset --workdir /tmp/rb-loo

``--time-budget-min`` starts no new epoch after that many minutes (the best checkpoint so far is
tested, and the JSON says the run was cut off); ``--cache-dataset`` pickles RecBole's processed
dataset in ``--workdir`` so later runs skip parsing the atomic files (about a minute for ``loo``,
whose train file holds every prefix of every sequence).

Any other RecBole setting can be given with ``--set key=value`` (the value is parsed as YAML).
RecBole's logs, checkpoints and the atomic files go to ``--workdir`` (a fresh temporary folder
by default). Runtime patches (done here, never in site-packages): numpy aliases removed in
numpy 1.24 that RecBole still names (``np.float``, ``np.long``), scipy's ``dok_matrix._update``
(gone in scipy 1.12, used by LightGCN), and ``torch.load`` of RecBole's own checkpoints with
``weights_only=False`` (torch >= 2.6 defaults to ``True``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
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

# General models that need no sampled negatives (auto-encoders over user rows, closed forms).
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
    parser.add_argument("--time-budget-min", type=float, default=None,
                        help="start no new epoch after this many minutes of training (the best "
                             "checkpoint so far is then tested; the JSON says it was cut off)")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="timing only: train at most N batches per epoch and extrapolate "
                             "seconds per full epoch (accuracy is then meaningless)")
    parser.add_argument("--cache-dataset", action="store_true",
                        help="pickle RecBole's processed dataset in --workdir (keyed by the split "
                             "files' checksum) and reuse it on later runs")
    parser.add_argument("--prepare-only", action="store_true",
                        help="write the atomic files, build (and cache) the dataset, then exit")
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
    """Names RecBole 1.2.1 uses that newer numpy / scipy removed (done here, not in site-packages)."""
    for name, value in (("float", float), ("int", int), ("bool", bool), ("long", np.int64)):
        if name not in np.__dict__:
            setattr(np, name, value)
    # LightGCN (and other graph models) fill a dok_matrix with the private dict method
    # `_update`, which scipy >= 1.12 no longer has; its entries now live in `_dict`.
    if not hasattr(sp.dok_matrix, "_update"):
        sp.dok_matrix._update = lambda self, entries: self._dict.update(entries)


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


def split_checksum(split_dir: Path) -> str:
    digest = hashlib.sha256()
    for part in SPLIT_PARTS:
        digest.update((split_dir / f"{part}.tsv").read_bytes())
    return digest.hexdigest()[:12]


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
                    zip(df["user"], df["item"], df["timestamp"], strict=True))


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
            for item, ts in zip(items, times, strict=True):
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


class TimeBudgetExceeded(Exception):
    """Raised before an epoch that would start after --time-budget-min."""


class _CountingBatches:
    """Iterates training batches and counts their rows."""

    def __init__(self, batches):
        self.batches, self.rows = batches, 0

    def __iter__(self):
        for batch in self.batches:
            self.rows += len(batch)
            yield batch


class BenchmarkTrainerMixin:
    """Adds epoch timing, a valid curve and optional seen-item masking to a RecBole trainer."""

    def setup_benchmark(self, mask_history: bool, max_batches: int | None = None,
                        time_budget_s: float | None = None) -> None:
        self.mask_history = mask_history
        self.max_batches = max_batches
        self.time_budget_s = time_budget_s
        self.epoch_seconds: list[float] = []      # wall clock
        self.epoch_cpu_seconds: list[float] = []  # this process's CPU time (all threads)
        self.epoch_batches: list[int] = []
        self.epoch_rows: list[int] = []           # training rows (sequences) actually seen
        self.valid_curve: list[tuple[int, float]] = []
        self._seen = None
        self._training_started = None

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        now = time.perf_counter()
        self._training_started = self._training_started or now
        if self.time_budget_s is not None and now - self._training_started > self.time_budget_s:
            raise TimeBudgetExceeded(epoch_idx)
        batches = len(train_data)
        if self.max_batches is not None:
            batches = min(batches, self.max_batches)
        counted = _CountingBatches(itertools.islice(train_data, batches))
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = super()._train_epoch(counted, epoch_idx, loss_func=loss_func,
                                    show_progress=show_progress)
        self.epoch_seconds.append(time.perf_counter() - start)
        self.epoch_cpu_seconds.append(time.process_time() - cpu_start)
        self.epoch_batches.append(batches)
        self.epoch_rows.append(counted.rows)
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


def make_trainer(config, model, **benchmark_options):
    from recbole.utils import get_trainer

    base = get_trainer(config["MODEL_TYPE"], config["model"])
    cls = type(f"Benchmark{base.__name__}", (BenchmarkTrainerMixin, base), {})
    trainer = cls(config, model)
    trainer.setup_benchmark(**benchmark_options)
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


def prepare(args: argparse.Namespace, workdir: Path, overrides: dict):
    """Atomic files + RecBole config, dataset and data loaders for the split."""
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import ModelType, get_model, init_logger, init_seed

    split_dir = args.split_dir.resolve()
    protocol = split_name(split_dir)
    name = "cinesync_" + "".join(c if c.isalnum() else "_" for c in protocol)
    data_root = workdir / "data"
    (data_root / name).mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # RecBole writes log/ and log_tensorboard/ under the working directory

    model_type = get_model(args.model).type
    sequential = model_type == ModelType.SEQUENTIAL
    config_dict = build_config_dict(args, model_type, data_root, workdir, overrides)
    cache = None
    if args.cache_dataset:
        key = split_checksum(split_dir) + (f"-len{args.max_len}" if sequential else "")
        cache = workdir / "saved" / f"{name}-{args.model}-{key}.pth"
        config_dict.update({"save_dataset": not cache.exists(), "dataset_save_path": str(cache)})

    frames = read_split(split_dir)
    if cache is None or not cache.exists():
        if sequential:
            write_sequential_atomic(frames, data_root / name, name, args.max_len)
        else:
            write_general_atomic(frames, data_root / name, name)

    config = Config(model=args.model, dataset=name, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    torch.set_num_threads(args.threads)

    dataset = create_dataset(config)
    if cache is not None and config["save_dataset"]:
        # RecBole saves under checkpoint_dir/<dataset>-<class>.pth; keep it under our key
        saved = Path(config["checkpoint_dir"]) / f"{name}-{type(dataset).__name__}.pth"
        if saved.exists():
            saved.replace(cache)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    mask_history = sequential and not args.no_history_mask
    if mask_history:  # RecBole masks these itself for general models
        valid_data.seen_items = seen_matrix(dataset, [frames["train"]])
        test_data.seen_items = seen_matrix(dataset, [frames["train"], frames["valid"]])
    return protocol, model_type, config, dataset, (train_data, valid_data, test_data), mask_history


def train_and_test(args, config, loaders, mask_history: bool):
    """RecBole's fit (early stopping on valid NDCG@10), then test with the best checkpoint."""
    from recbole.utils import get_model, init_seed

    train_data, valid_data, test_data = loaders
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    budget = args.time_budget_min * 60 if args.time_budget_min is not None else None
    trainer = make_trainer(config, model, mask_history=mask_history,
                           max_batches=args.max_batches, time_budget_s=budget)
    cut_by_budget = False
    try:
        trainer.fit(train_data, valid_data, verbose=True, saved=True, show_progress=False,
                    callback_fn=trainer.record_valid)
    except TimeBudgetExceeded:
        cut_by_budget = True
    test_result = trainer.evaluate(test_data, load_best_model=True) if trainer.valid_curve else None
    return trainer, test_result, cut_by_budget


def summarize(args, protocol, model_type, config, dataset, loaders, mask_history,
              trainer, test_result, cut_by_budget, seconds) -> dict:
    import recbole
    from recbole.utils import ModelType

    sequential = model_type == ModelType.SEQUENTIAL
    train_data = loaders[0]
    train_rows = len(train_data._dataset)
    full_batches = len(train_data)
    epochs_run = len(trainer.epoch_seconds)
    curve = trainer.valid_curve
    best_epoch = max(curve, key=lambda e: e[1])[0] if curve else None  # first maximum, 1-based
    stopped_early = epochs_run < trainer.epochs and not cut_by_budget
    # per full epoch; with --max-batches extrapolated from the rows actually trained on
    scale = [train_rows / rows for rows in trainer.epoch_rows]
    per_epoch = [s * f for s, f in zip(trainer.epoch_seconds, scale, strict=True)]
    per_epoch_cpu = [s * f for s, f in zip(trainer.epoch_cpu_seconds, scale, strict=True)]
    sec_per_epoch = float(np.mean(per_epoch)) if per_epoch else None
    cut_by_cap = (model_type != ModelType.TRADITIONAL and not stopped_early and not cut_by_budget
                  and bool(curve)
                  and curve[-1][0] - best_epoch < args.stopping_step * args.eval_every)
    return {
        "library": "RecBole",
        "recbole_version": recbole.__version__,
        "torch_version": torch.__version__,
        "model": args.model,
        "model_type": model_type.name.lower(),
        "protocol": protocol,
        "split_dir": str(args.split_dir.resolve()),
        "valid": metrics_at_k(trainer.best_valid_result),
        "test": metrics_at_k(test_result),
        "epochs_run": epochs_run,
        "epoch_cap": trainer.epochs,
        "best_epoch": best_epoch,
        "stopped_early": stopped_early,
        # the cap was reached while valid NDCG@10 had improved within the last stopping_step evals
        "cut_off_by_epoch_cap": cut_by_cap,
        "cut_off_by_time_budget": cut_by_budget,
        "partial_epochs": args.max_batches is not None and args.max_batches < full_batches,
        "batches_per_epoch": full_batches,
        "batches_timed_per_epoch": trainer.epoch_batches,
        "rows_timed_per_epoch": trainer.epoch_rows,
        "seconds_per_epoch": sec_per_epoch,
        "cpu_seconds_per_epoch": float(np.mean(per_epoch_cpu)) if per_epoch_cpu else None,
        "epoch_seconds": [round(s, 3) for s in trainer.epoch_seconds],
        "epoch_cpu_seconds": [round(s, 3) for s in trainer.epoch_cpu_seconds],
        "train_sequences": train_rows,
        "train_sequences_per_second": train_rows / sec_per_epoch if sec_per_epoch else None,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "history_mask": mask_history,
        "valid_curve_ndcg@10": curve,
        **{k: round(v, 2) for k, v in seconds.items()},
        "n_users": dataset.user_num - 1,
        "n_items": dataset.item_num - 1,
        "max_item_list_length": config["MAX_ITEM_LIST_LENGTH"] if sequential else None,
        "config": {k: _jsonable(config[k]) for k in (
            "hidden_size", "embedding_size", "n_layers", "n_heads", "inner_size",
            "loss_type", "train_neg_sample_args", "train_batch_size", "learning_rate",
            "stopping_step", "eval_step", "seed", "reg_weight", "dropout_prob",
            "hidden_dropout_prob", "attn_dropout_prob") if config[k] is not None},
        "workdir": str(Path.cwd()),
    }


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    overrides = parse_overrides(args.overrides)
    apply_compat_patches()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="recbole-bench-"))).resolve()
    out_path = args.out.resolve() if args.out else None

    t0 = time.perf_counter()
    protocol, model_type, config, dataset, loaders, mask_history = prepare(args, workdir, overrides)
    data_seconds = time.perf_counter() - t0
    if args.prepare_only:
        print(f"prepared {protocol} for {args.model} in {data_seconds:.1f}s under {workdir}")
        return None
    t1 = time.perf_counter()
    trainer, test_result, cut_by_budget = train_and_test(args, config, loaders, mask_history)
    seconds = {"data_seconds": data_seconds, "fit_seconds": time.perf_counter() - t1}
    summary = summarize(args, protocol, model_type, config, dataset, loaders, mask_history,
                        trainer, test_result, cut_by_budget, seconds)
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
