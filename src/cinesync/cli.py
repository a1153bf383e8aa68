"""The `cinesync` command line — the one place that reads argv and the environment."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cinesync.errors import CineSyncError

app = typer.Typer(help="CineSync: movie & TV recommendations — data, models, evaluation.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Inspect data sets and write splits.", no_args_is_help=True)
models_app = typer.Typer(help="The model zoo.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
# wide enough for the leaderboard when output is piped to a file
console = Console(width=None if sys.stdout.isatty() else 180)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DatasetOpt = Annotated[str, typer.Option("--dataset", "-d", help="Bundled/known name (ml-latest-small, ml-100k, "
                       "ml-1m, ..., anime, csv, parquet) or a path to a data file/folder/zip.")]
PathOpt = Annotated[str | None, typer.Option("--path", help="Local zip/folder/file for --dataset.")]
TmdbOpt = Annotated[str | None, typer.Option("--tmdb-path", help="TMDB 5000 movies csv/zip: join plot overviews "
                    "and runtimes via links.csv.")]
DownloadOpt = Annotated[bool, typer.Option("--download", help="Download a MovieLens set from GroupLens (checksum "
                        "verified) when no --path is given.")]
UserCol = Annotated[str | None, typer.Option("--user-col", help="csv/parquet: user id column (default: 'user').")]
ItemCol = Annotated[str | None, typer.Option("--item-col", help="csv/parquet: item id column (default: 'item').")]
ItemsFile = Annotated[str | None, typer.Option("--items-file", help="csv/parquet: item metadata file joined on "
                      "the item id (columns set by --title-col / --genres-col).")]
TitleCol = Annotated[str | None, typer.Option("--title-col", help="csv/parquet: title column of --items-file.")]
GenresCol = Annotated[str | None, typer.Option("--genres-col", help="csv/parquet: '|'-separated genres column "
                      "of --items-file.")]
RatingCol = Annotated[str | None, typer.Option("--rating-col", help="csv/parquet: rating column (optional).")]
TimeCol = Annotated[str | None, typer.Option("--timestamp-col", help="csv/parquet: timestamp column (optional).")]
SepOpt = Annotated[str | None, typer.Option("--sep", help="csv: field separator (default: detect).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


def _setup_logging(verbose: bool = False) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", datefmt="[%X]",
                        handlers=[RichHandler(console=err_console, show_path=False)], force=True)
    for noisy in ("matplotlib", "PIL", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _load(dataset: str, path: str | None, tmdb_path: str | None = None, download: bool = False,
          **column_flags: str | None) -> Any:
    """Load a data set; column flags (user/item/rating/timestamp/sep/items_path/title/genres) only for tables."""
    from cinesync.data.loaders import ColumnMap, load_dataset

    given = {k: v for k, v in column_flags.items() if v is not None}
    columns = ColumnMap(**given) if given else None
    return load_dataset(dataset, path, tmdb_path=tmdb_path, columns=columns, download=download)


def _parse_ks(k: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
    except ValueError:
        raise typer.BadParameter(f"--k must be comma-separated positive integers, got {k!r}") from None
    if not ks or ks[0] <= 0:
        raise typer.BadParameter(f"--k must be comma-separated positive integers, got {k!r}")
    return ks


def _parse_sets(values: list[str], models: list[str]) -> dict[str, dict[str, Any]]:
    """`--set ease.l2=200` -> {"ease": {"l2": 200}} (values parsed as JSON when possible)."""
    out: dict[str, dict[str, Any]] = {}
    for item in values:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise typer.BadParameter(f"--set expects MODEL.PARAM=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        model, param = key.split(".", 1)
        if model not in models:
            raise typer.BadParameter(f"--set {item!r}: model {model!r} is not in --models ({', '.join(models)})")
        try:
            val = json.loads(raw)
        except json.JSONDecodeError:
            val = raw
        out.setdefault(model, {})[param] = val
    return out


def _parse_device(device: str) -> str:
    if device not in ("cpu", "cuda", "auto"):
        raise typer.BadParameter(f"--device must be cpu, cuda or auto, got {device!r}")
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _fit_extra(tracker: str | None, train_log: str | None) -> dict:
    """Fit options for the neural models (``FitContext.extra``)."""
    from cinesync.training.tracking import TRACKERS

    extra: dict = {}
    if tracker:
        if tracker not in TRACKERS:
            raise typer.BadParameter(f"--tracker must be one of {', '.join(TRACKERS)}, got {tracker!r}")
        extra["tracker"] = tracker
    if train_log:
        Path(train_log).mkdir(parents=True, exist_ok=True)
        extra["metrics_log_dir"] = train_log
    return extra


def _parse_models(models: str) -> list[str]:
    from cinesync.models.base import FAMILIES
    from cinesync.models.registry import available, model_class

    if models == "all" or models in FAMILIES:
        wanted = {"classical", "neural", "content"} if models == "all" else {models}
        names = [n for n in available() if model_class(n).family in wanted]
    else:
        names = [m.strip().lower() for m in models.split(",") if m.strip()]
    for n in names:
        model_class(n)
    return names


@app.command()
def evaluate(
    dataset: DatasetOpt = "ml-latest-small",
    path: PathOpt = None,
    tmdb_path: TmdbOpt = None,
    download: DownloadOpt = False,
    protocol: Annotated[str, typer.Option("--protocol", "-p", help="loo | recbole-8-1-1 | temporal | ratio "
                        "(see `cinesync data protocols`).")] = "loo",
    split_dir: Annotated[str | None, typer.Option("--split", help="Evaluate on exactly this split: a directory with "
                         "train.tsv, valid.tsv, test.tsv (header user, item, rating, timestamp).")] = None,
    models: Annotated[str, typer.Option("--models", "-m", help="Comma-separated model names or a group: "
                      "'classical', 'neural', 'content', 'crossdomain', 'ensemble', or 'all' (classical + neural + "
                      "content).")] = "classical",
    k: Annotated[str, typer.Option("--k", help="Cut-offs, comma-separated.")] = "10,20",
    seed: Annotated[int, typer.Option(help="Seed for splits and models.")] = 0,
    tune: Annotated[bool, typer.Option("--tune/--no-tune", help="Tune each model's key hyper-parameters on the "
                    "validation split (never test) before scoring test.")] = True,
    sets: Annotated[list[str] | None, typer.Option("--set", help="Fix a hyper-parameter: MODEL.PARAM=VALUE "
                    "(repeatable; fixed params are not tuned).")] = None,
    no_tune_models: Annotated[str | None, typer.Option("--no-tune-models", help="Comma-separated models kept at "
                              "their default configuration (no validation search), e.g. to bound the run "
                              "time of the slow neural models.")] = None,
    json_out: Annotated[str | None, typer.Option("--json", help="Write results JSON here.")] = None,
    csv_out: Annotated[str | None, typer.Option("--csv", help="Write a CSV row per model here.")] = None,
    report: Annotated[str | None, typer.Option("--report", help="Write report.md/report.html/leaderboard.png "
                      "into this directory.")] = None,
    save_split: Annotated[str | None, typer.Option("--save-split", help="Also write the split used to this "
                          "directory (train/valid/test.tsv).")] = None,
    batch_size: Annotated[int, typer.Option(help="Users scored per chunk (bounds memory).")] = 2048,
    sampled: Annotated[int, typer.Option("--sampled", help="ALSO report sampled metrics with N random negatives "
                       "per test item (not comparable with full ranking; off by default).")] = 0,
    no_beyond: Annotated[bool, typer.Option("--no-beyond", help="Skip beyond-accuracy metrics.")] = False,
    device: Annotated[str, typer.Option("--device", help="Where neural models train: cpu, cuda, or auto (cuda "
                      "when present).")] = "cpu",
    tracker: Annotated[str | None, typer.Option("--tracker", help="Log neural training to 'mlflow' or 'wandb' "
                       "(the package must be installed).")] = None,
    train_log: Annotated[str | None, typer.Option("--train-log", help="Append each neural model's per-epoch "
                         "metrics (JSON lines) to MODEL.jsonl in this directory.")] = None,
    user_col: UserCol = None, item_col: ItemCol = None, rating_col: RatingCol = None,
    timestamp_col: TimeCol = None, sep: SepOpt = None, items_file: ItemsFile = None, title_col: TitleCol = None,
    genres_col: GenresCol = None, verbose: VerboseOpt = False,
) -> None:
    """Evaluate models with full-ranking metrics and print a leaderboard (mean ±95 % CI, best in bold)."""
    _setup_logging(verbose)
    from cinesync.data.split_io import read_split, write_split
    from cinesync.eval.experiment import ExperimentConfig, run_experiment
    from cinesync.eval.protocols import make_split
    from cinesync.eval.report import print_leaderboard, write_csv, write_json, write_report

    ks = _parse_ks(k)
    names = _parse_models(models)
    configs = _parse_sets(sets or [], names)
    if batch_size <= 0:
        raise typer.BadParameter("--batch-size must be positive")
    if split_dir:
        split = read_split(split_dir)
        ds_name, proto = f"split:{split_dir}", "split-dir"
    else:
        data = _load(dataset, path, tmdb_path, download, user=user_col, item=item_col, rating=rating_col,
                     timestamp=timestamp_col, sep=sep, items_path=items_file, title=title_col, genres=genres_col)
        split = make_split(protocol, data, seed=seed)
        ds_name, proto = data.name, protocol
    if save_split:
        write_split(split, save_split)
    untuned = [m.strip().lower() for m in (no_tune_models or "").split(",") if m.strip()]
    unknown = sorted(set(untuned) - set(names))
    if unknown:
        raise typer.BadParameter(f"--no-tune-models: {', '.join(unknown)} not in --models ({', '.join(names)})")
    cfg = ExperimentConfig(dataset=ds_name, protocol=proto, models=names, ks=ks, seed=seed, tune=tune,
                           untuned=untuned, configs=configs, batch_size=batch_size, beyond=not no_beyond,
                           sampled_negatives=sampled, device=_parse_device(device),
                           fit_extra=_fit_extra(tracker, train_log))
    doc = run_experiment(split, cfg)
    if sampled:
        err_console.print("[yellow]warning:[/yellow] sampled_* metrics use random negatives and are NOT comparable "
                          "with full-ranking metrics or published full-ranking results")
    print_leaderboard(doc, console)
    if json_out:
        write_json(doc, json_out)
        console.print(f"results JSON: {json_out}")
    if csv_out:
        write_csv(doc, csv_out)
        console.print(f"results CSV: {csv_out}")
    if report:
        write_report(doc, report)
        console.print(f"report: {Path(report) / 'report.html'}")


@data_app.command("list")
def data_list() -> None:
    """Known data set names."""
    from cinesync.data.loaders import DATASETS

    for name, desc in DATASETS.items():
        console.print(f"[bold]{name}[/bold]: {desc}")


@data_app.command("show")
def data_show(
    dataset: Annotated[str, typer.Argument(help="Data set name or path.")] = "ml-latest-small",
    path: PathOpt = None, tmdb_path: TmdbOpt = None, download: DownloadOpt = False,
    user_col: UserCol = None, item_col: ItemCol = None, rating_col: RatingCol = None,
    timestamp_col: TimeCol = None, sep: SepOpt = None, items_file: ItemsFile = None, title_col: TitleCol = None,
    genres_col: GenresCol = None, verbose: VerboseOpt = False,
) -> None:
    """Counts, density, rating and time ranges, and the domain mix."""
    _setup_logging(verbose)
    data = _load(dataset, path, tmdb_path, download, user=user_col, item=item_col, rating=rating_col,
                 timestamp=timestamp_col, sep=sep, items_path=items_file, title=title_col, genres=genres_col)
    d = data.describe()
    from rich.table import Table

    t = Table(title=d.pop("name"), show_header=False)
    for key, val in d.items():
        if isinstance(val, float):
            shown = f"{val:.5f}" if key == "density" else f"{val:.3f}"
        else:
            shown = f"{val:,}" if isinstance(val, int) else str(val)
        t.add_row(key, shown)
    console.print(t)


@data_app.command("protocols")
def data_protocols() -> None:
    """The named evaluation protocols and exactly what each does."""
    from cinesync.eval.protocols import PROTOCOLS

    for name, spec in PROTOCOLS.items():
        console.print(f"[bold]{name}[/bold]: {spec.description}")


@data_app.command("split")
def data_split(
    out: Annotated[str, typer.Option("--out", "-o", help="Directory for train.tsv, valid.tsv, test.tsv.")],
    dataset: DatasetOpt = "ml-latest-small", path: PathOpt = None, download: DownloadOpt = False,
    protocol: Annotated[str, typer.Option("--protocol", "-p")] = "loo",
    seed: Annotated[int, typer.Option()] = 0, verbose: VerboseOpt = False,
) -> None:
    """Write a protocol's split to disk (to feed another library the identical split)."""
    _setup_logging(verbose)
    from cinesync.data.split_io import write_split
    from cinesync.eval.protocols import make_split

    data = _load(dataset, path, None, download)
    split = make_split(protocol, data, seed=seed)
    write_split(split, out)
    console.print(f"wrote {out}: {split.summary()}")


@models_app.command("available")
def models_available() -> None:
    """Registered models with their default configs and validation grids."""
    from cinesync.models.registry import available, model_class

    for name in available():
        cls = model_class(name)
        defaults = cls.config_class().model_dump()
        console.print(f"[bold]{name}[/bold] ({cls.__name__}): defaults {defaults}; tuned on validation over "
                      f"{cls.tune_grid or 'nothing'}")


@app.command()
def benchmark(
    models: Annotated[str, typer.Option("--models", "-m", help="Comma-separated model names, 'classical' or "
                      "'all'.")] = "classical",
    synthetic: Annotated[bool, typer.Option("--synthetic/--no-synthetic", help="Also run the synthetic power-law "
                         "set.")] = True,
    users: Annotated[int, typer.Option(help="Synthetic users.")] = 100_000,
    items: Annotated[int, typer.Option(help="Synthetic items.")] = 20_000,
    interactions: Annotated[int, typer.Option(help="Synthetic interactions.")] = 10_000_000,
    synthetic_models: Annotated[str, typer.Option(help="Models run on the synthetic set.")] = "pop,als",
    out: Annotated[str | None, typer.Option("--out", help="Write the table as JSON and a plot PNG here.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Fit time, evaluation time and peak memory per model (bundled data + synthetic power-law set)."""
    _setup_logging(verbose)
    from cinesync.bench import run_benchmark

    run_benchmark(_parse_models(models), synthetic, users, items, interactions,
                  _parse_models(synthetic_models), out, console)


@app.command("bench-train")
def bench_train(
    model: Annotated[str, typer.Option("--model", "-m", help="A neural model name.")] = "sasrec",
    dataset: DatasetOpt = "ml-latest-small",
    path: PathOpt = None,
    protocol: Annotated[str, typer.Option("--protocol", "-p", help="Split to train on (validation part "
                        "drives early stopping).")] = "loo",
    sets: Annotated[list[str] | None, typer.Option("--set", help="Fix a hyper-parameter: PARAM=VALUE "
                    "(repeatable), e.g. --set epochs=5.")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto.")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed for the split and the model.")] = 0,
    out: Annotated[str | None, typer.Option("--out", help="Write train_speed.json and train_curve.png here.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Training speed of a neural model (not a test): s/epoch, sequences/s, time to the best validation epoch."""
    _setup_logging(verbose)
    from cinesync.bench_train import run_train_benchmark

    name = _parse_models(model)[0]
    config = _parse_sets([f"{name}.{s}" for s in sets or []], [name]).get(name, {})
    run_train_benchmark(name, config, protocol, _load(dataset, path), _parse_device(device), seed, out, console)


from cinesync.cli_store import install as _install_store  # noqa: E402

_install_store(app, models_app)

from cinesync.cli_serve import install as _install_serve  # noqa: E402

_install_serve(app)

from cinesync.cli_bot import install as _install_bot  # noqa: E402

_install_bot(app)

from cinesync.cli_ensemble import install as _install_ensemble  # noqa: E402

_install_ensemble(app)

from cinesync.cli_content import install as _install_content  # noqa: E402

_install_content(app)

from cinesync.cli_fusion import install as _install_fusion  # noqa: E402

_install_fusion(app)

from cinesync.cli_crossdomain import install as _install_crossdomain  # noqa: E402

_install_crossdomain(app)


def main() -> None:
    """Entry point: friendly one-line errors for expected failures, exit code 2."""
    try:
        app()
    except CineSyncError as e:
        err_console.print(f"[red]error:[/red] {e}")
        sys.exit(2)
    except FileNotFoundError as e:
        err_console.print(f"[red]error:[/red] file not found: {e.filename or e}")
        sys.exit(2)
