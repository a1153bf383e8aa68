"""Store and model-lifecycle commands: import, availability import, train, models list/promote/rollback,
user create. ``install(app, models_app)`` adds them to the main ``cinesync`` command line.

Every command takes --home / --database-url (else CINESYNC_HOME / CINESYNC_DATABASE_URL via
``Settings.from_env``) and migrates the database first (a no-op when it is up to date). Expected
failures print one ``error:`` line and exit with code 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cinesync.cli.common import (
    DbOpt,
    GenresCol,
    HomeOpt,
    ItemCol,
    ItemsFile,
    ProgressOpt,
    RatingCol,
    RatingScaleOpt,
    SepOpt,
    SkipBadRowsOpt,
    TimeCol,
    TitleCol,
    UserCol,
    VerboseOpt,
    console,
    err_console,
    expected_errors,
    load_data,
    parse_params,
    setup_logging,
    threads_from_env,
)
from cinesync.errors import DataError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


@contextmanager
def store_session(home: Path | None, database_url: str | None) -> Iterator[tuple[Any, sessionmaker[Session]]]:
    """(settings, session factory) for a migrated database; the engine is disposed afterwards."""
    from cinesync.serving.settings import Settings
    from cinesync.store.db import make_engine, migrate, session_factory

    settings = Settings.from_env(home=home, database_url=database_url)
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        yield settings, session_factory(engine)
    finally:
        engine.dispose()


def _safe_url(url: str) -> str:
    """``url`` with any password masked, for printing."""
    from cinesync.store.db import normalize_url

    return normalize_url(url).render_as_string(hide_password=True)


def _metrics_text(metrics: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()) or "-"


def import_cmd(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Data set name (ml-latest-small, ml-1m, anime, "
                       "...) or a path to a data file/folder/zip.")] = "ml-latest-small",
    path: Annotated[str | None, typer.Option("--path", help="Local zip/folder/file for --dataset.")] = None,
    tmdb_path: Annotated[str | None, typer.Option("--tmdb-path", help="TMDB 5000 movies csv/zip: add plot "
                         "overviews and runtimes via links.csv.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Name recorded in import keys (default: the data "
                      "set's name); re-importing under the same name adds nothing.")] = None,
    download: Annotated[bool, typer.Option("--download", help="Download a MovieLens set from GroupLens (checksum "
                        "verified) when no --path is given.")] = False,
    skip_bad_rows: SkipBadRowsOpt = False, rating_scale: RatingScaleOpt = None,
    implicit: Annotated[bool, typer.Option("--implicit", help="The file has no ratings: import its rows as "
                        "'watched' events (without this, a file with no rating column is an error).")] = False,
    user_col: UserCol = None, item_col: ItemCol = None, rating_col: RatingCol = None, timestamp_col: TimeCol = None,
    sep: SepOpt = None, items_file: ItemsFile = None, title_col: TitleCol = None, genres_col: GenresCol = None,
    home: HomeOpt = None, database_url: DbOpt = None, progress: ProgressOpt = True, verbose: VerboseOpt = False,
) -> None:
    """Import a data set's users, catalogue and ratings into the store (idempotent, all or nothing).

    Every row is checked first (ids, ratings on the data set's scale, timestamps); a bad row fails
    the whole import, naming its file and line, unless --skip-bad-rows. Item metadata is updated only
    where the source provides it: a ratings-only file leaves titles, genres and tags as they were.
    """
    with expected_errors():
        setup_logging(verbose)
        from cinesync.store.importer import import_dataset

        report: list = []
        data = load_data(dataset, path, tmdb_path, download, bad_rows="skip" if skip_bad_rows else "error",
                         report=report, user=user_col, item=item_col, rating=rating_col, timestamp=timestamp_col,
                         sep=sep, items_path=items_file, title=title_col, genres=genres_col,
                         rating_scale=rating_scale)
        if data.rating is None and not implicit:
            raise DataError(f"{data.name}: no rating column, so nothing to import as ratings; pass --implicit to "
                            "import its rows as 'watched' events (or --rating-col NAME)")
        if implicit:
            data = data.with_ratings(None)
        with store_session(home, database_url) as (settings, factory):
            c = import_dataset(factory, data, source or data.name, progress=progress)
        console.print(f"imported {c['source']} into {_safe_url(settings.database_url)} in {c['seconds']:.1f}s")
        for what in ("users", "items", "events"):
            updated = f", {c['items_updated']:,} updated" if what == "items" else ""
            console.print(f"  {what}: {c[what + '_new']:,} new, {c[what + '_existing']:,} existing{updated}")
        for skipped in report:
            console.print(f"  {skipped}", highlight=False)


def availability_import(
    file: Annotated[Path, typer.Argument(help="CSV with header item_id,provider,region, or a JSON list of "
                        "objects with those keys.")],
    home: HomeOpt = None, database_url: DbOpt = None, verbose: VerboseOpt = False,
) -> None:
    """Import streaming availability (which provider offers an item in which region)."""
    with expected_errors():
        setup_logging(verbose)
        from cinesync.store.importer import import_availability

        with store_session(home, database_url) as (_, factory), factory.begin() as s:
            c = import_availability(s, file)
        console.print(f"availability from {file}: {c['rows']:,} rows, {c['new']:,} new, {c['existing']:,} existing, "
                      f"{c['unknown_items']:,} with unknown item ids skipped")


def train(
    model: Annotated[str, typer.Option("--model", "-m", help="Registered model name (see `cinesync models "
                     "available`).")] = "ease",
    sets: Annotated[list[str] | None, typer.Option("--set", help="Hyper-parameter PARAM=VALUE (repeatable), "
                    "e.g. --set l2=300.")] = None,
    no_eval: Annotated[bool, typer.Option("--no-eval", help="Skip the quick offline evaluation.")] = False,
    home: HomeOpt = None, database_url: DbOpt = None, progress: ProgressOpt = True, verbose: VerboseOpt = False,
) -> None:
    """Train a model on everything in the store, save it as a new version (served if it is the first)."""
    with expected_errors():
        setup_logging(verbose)
        from cinesync.serving.lifecycle import train_from_store
        from cinesync.store.versions import promoted_version

        config = parse_params(sets or [])
        with store_session(home, database_url) as (settings, factory):
            mv = train_from_store(factory, settings.home, model, config, evaluate=not no_eval, progress=progress,
                                  threads=threads_from_env())
            with factory() as s:
                served = promoted_version(s)
        note = " — promoted, now served" if served is not None and served.id == mv.id else ""
        console.print(f"version: {mv.label} (id {mv.id}){note}")
        console.print(f"path: {mv.path}")
        console.print(f"metrics: {_metrics_text(mv.metrics)}")
        console.print(f"fit seconds: {mv.info.get('fit_seconds', float('nan')):.2f}")


def models_list(home: HomeOpt = None, database_url: DbOpt = None) -> None:
    """Trained model versions; * marks the one being served."""
    with expected_errors():
        from cinesync.store.versions import list_versions, promoted_version

        with store_session(home, database_url) as (_, factory), factory() as s:
            rows, served = list_versions(s), promoted_version(s)
        if not rows:
            console.print("no model versions yet: run `cinesync train`")
            return
        t = Table(title="model versions")
        for col in ("", "id", "version", "model", "created", "metrics"):
            t.add_column(col)
        for mv in rows:
            created = mv.created_at.astimezone() if mv.created_at.tzinfo else mv.created_at
            t.add_row("*" if served is not None and served.id == mv.id else "", str(mv.id), mv.label, mv.model,
                      created.strftime("%Y-%m-%d %H:%M"), _metrics_text(mv.metrics))
        console.print(t)


def models_promote(
    version_id: Annotated[str, typer.Argument(help="Version id (from `cinesync models list`) or label, e.g. "
                          "ease-v2.")],
    home: HomeOpt = None, database_url: DbOpt = None,
) -> None:
    """Serve this model version from now on."""
    with expected_errors():
        from cinesync.store.versions import promote

        with store_session(home, database_url) as (_, factory), factory.begin() as s:
            mv = promote(s, version_id)
            label, vid = mv.label, mv.id
        console.print(f"promoted {label} (id {vid}): now served")


def models_rollback(home: HomeOpt = None, database_url: DbOpt = None) -> None:
    """Serve the version that was served before the current one."""
    with expected_errors():
        from cinesync.store.versions import rollback

        with store_session(home, database_url) as (_, factory), factory.begin() as s:
            mv = rollback(s)
            label, vid = mv.label, mv.id
        console.print(f"rolled back: {label} (id {vid}) is served again")


def user_create(
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Give the user admin rights.")] = False,
    user_id: Annotated[str | None, typer.Option("--id", help="User id (default: a random one).")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Country code, e.g. US.")] = None,
    providers: Annotated[list[str] | None, typer.Option("--provider", help="Streaming service the user has "
                         "(repeatable).")] = None,
    home: HomeOpt = None, database_url: DbOpt = None,
) -> None:
    """Create a user and print their id and API token (shown only once)."""
    with expected_errors():
        from cinesync.store.repo import create_user

        with store_session(home, database_url) as (_, factory), factory.begin() as s:
            user, token = create_user(s, display_name=name, external_id=user_id, is_admin=admin, region=region,
                                      providers=providers)
            uid = user.external_id
        console.print(f"user id: {uid}{' (admin)' if admin else ''}")
        console.print(f"token: {token}", highlight=False)
        err_console.print("store the token now: only its hash is kept, it cannot be shown again")


def install(app: typer.Typer, models_app: typer.Typer) -> None:
    """Add the store commands to ``app`` and the version commands to ``models_app``."""
    app.command("import")(import_cmd)
    app.command("train")(train)
    availability_app = typer.Typer(help="Streaming availability (provider x region per item).", no_args_is_help=True)
    availability_app.command("import")(availability_import)
    app.add_typer(availability_app, name="availability")
    user_app = typer.Typer(help="Service users and their API tokens.", no_args_is_help=True)
    user_app.command("create")(user_create)
    app.add_typer(user_app, name="user")
    models_app.command("list")(models_list)
    models_app.command("promote")(models_promote)
    models_app.command("rollback")(models_rollback)
