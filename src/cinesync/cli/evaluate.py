"""``cinesync evaluate`` (the leaderboard), ``cinesync data ...`` (data sets, protocols, splits) and
``cinesync models available``. ``install(app, data_app, models_app)`` adds them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cinesync.cli.common import (
    DatasetOpt,
    DownloadOpt,
    GenresCol,
    ItemCol,
    ItemsFile,
    PathOpt,
    RatingCol,
    RatingScaleOpt,
    SepOpt,
    SkipBadRowsOpt,
    TimeCol,
    TitleCol,
    TmdbOpt,
    UserCol,
    VerboseOpt,
    console,
    err_console,
    load_data,
    parse_device,
    parse_ks,
    parse_model_params,
    parse_models,
    setup_logging,
    threads_from_env,
)
from cinesync.models.base import FitContext


def fit_options(device: str, tracker: str | None, train_log: str | None) -> FitContext:
    """How the evaluated models are fitted: device, torch threads (from the environment), training logs."""
    from cinesync.training.tracking import TRACKERS

    if tracker and tracker not in TRACKERS:
        raise typer.BadParameter(f"--tracker must be one of {', '.join(TRACKERS)}, got {tracker!r}")
    if train_log:
        Path(train_log).mkdir(parents=True, exist_ok=True)
    return FitContext(device=parse_device(device), threads=threads_from_env(), tracker=tracker,
                      metrics_log_dir=train_log)


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
    genres_col: GenresCol = None, rating_scale: RatingScaleOpt = None, skip_bad_rows: SkipBadRowsOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Evaluate models with full-ranking metrics and print a leaderboard (mean ±95 % CI, best in bold)."""
    setup_logging(verbose)
    from cinesync.data.protocols import make_split
    from cinesync.data.split_io import read_split, write_split
    from cinesync.eval.report import print_leaderboard, write_csv, write_json, write_report
    from cinesync.experiments.leaderboard import ExperimentConfig, run_experiment

    ks = parse_ks(k)
    names = parse_models(models)
    configs = parse_model_params(sets or [], names)
    if batch_size <= 0:
        raise typer.BadParameter("--batch-size must be positive")
    if split_dir:
        split = read_split(split_dir)
        ds_name, proto = f"split:{split_dir}", "split-dir"
    else:
        data = load_data(dataset, path, tmdb_path, download, "skip" if skip_bad_rows else "error", None,
                         user=user_col, item=item_col, rating=rating_col, timestamp=timestamp_col, sep=sep,
                         items_path=items_file, title=title_col, genres=genres_col, rating_scale=rating_scale)
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
                           sampled_negatives=sampled, fit=fit_options(device, tracker, train_log))
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


def data_list() -> None:
    """Known data set names."""
    from cinesync.data.loaders import DATASETS

    for name, desc in DATASETS.items():
        console.print(f"[bold]{name}[/bold]: {desc}")


def data_show(
    dataset: Annotated[str, typer.Argument(help="Data set name or path.")] = "ml-latest-small",
    path: PathOpt = None, tmdb_path: TmdbOpt = None, download: DownloadOpt = False,
    user_col: UserCol = None, item_col: ItemCol = None, rating_col: RatingCol = None,
    timestamp_col: TimeCol = None, sep: SepOpt = None, items_file: ItemsFile = None, title_col: TitleCol = None,
    genres_col: GenresCol = None, rating_scale: RatingScaleOpt = None, skip_bad_rows: SkipBadRowsOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Counts, density, rating and time ranges, and the domain mix."""
    setup_logging(verbose)
    data = load_data(dataset, path, tmdb_path, download, "skip" if skip_bad_rows else "error", None,
                     user=user_col, item=item_col, rating=rating_col, timestamp=timestamp_col, sep=sep,
                     items_path=items_file, title=title_col, genres=genres_col, rating_scale=rating_scale)
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


def data_protocols() -> None:
    """The named evaluation protocols and exactly what each does."""
    from cinesync.data.protocols import PROTOCOLS

    for name, spec in PROTOCOLS.items():
        console.print(f"[bold]{name}[/bold]: {spec.description}")


def data_split(
    out: Annotated[str, typer.Option("--out", "-o", help="Directory for train.tsv, valid.tsv, test.tsv.")],
    dataset: DatasetOpt = "ml-latest-small", path: PathOpt = None, download: DownloadOpt = False,
    protocol: Annotated[str, typer.Option("--protocol", "-p")] = "loo",
    seed: Annotated[int, typer.Option()] = 0, verbose: VerboseOpt = False,
) -> None:
    """Write a protocol's split to disk (to feed another library the identical split)."""
    setup_logging(verbose)
    from cinesync.data.protocols import make_split
    from cinesync.data.split_io import write_split

    data = load_data(dataset, path, None, download)
    split = make_split(protocol, data, seed=seed)
    write_split(split, out)
    console.print(f"wrote {out}: {split.summary()}")


def models_available() -> None:
    """Registered models with their group, default configs and validation grids."""
    from cinesync.extras import MissingExtraError
    from cinesync.models.registry import available, family, model_class

    for name in available():
        try:
            cls = model_class(name)
        except MissingExtraError as e:
            console.print(f"[bold]{name}[/bold] ({family(name)}): not installed: {escape(str(e))}")
            continue
        defaults = cls.config_class().model_dump()
        console.print(f"[bold]{name}[/bold] ({cls.__name__}, {cls.family}): defaults {defaults}; tuned on "
                      f"validation over {cls.tune_grid or 'nothing'}")


def install(app: typer.Typer, data_app: typer.Typer, models_app: typer.Typer) -> None:
    """Add ``evaluate`` to ``app``, the data commands to ``data_app`` and ``available`` to ``models_app``."""
    app.command()(evaluate)
    data_app.command("list")(data_list)
    data_app.command("show")(data_show)
    data_app.command("protocols")(data_protocols)
    data_app.command("split")(data_split)
    models_app.command("available")(models_available)
