"""The ``cpted`` command line: run the platform, operate it, manage keys.

Exit codes: 0 success, 1 failure of the operation, 2 bad usage.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import httpx
import typer
from rich.progress import Progress

from cpted.command import CommandLine, Debug, DebugAll, Json, Run, err, out, settings_of, show
from cpted.cswb import cswb_app
from cpted.reporting import export_command, report_command
from shared import logs, tracing
from shared.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

app = typer.Typer(
    cls=CommandLine,
    help="CPTED partnerships platform. Exit codes: 0 done, 1 failed (one line on stderr), 2 bad usage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Manage API keys", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
partnerships_app = typer.Typer(help="Look up partnerships", no_args_is_help=True)
app.add_typer(partnerships_app, name="partnerships")
audits_app = typer.Typer(help="Look up audits", no_args_is_help=True)
app.add_typer(audits_app, name="audits")
app.add_typer(cswb_app, name="cswb")
console = out  # no wrapping when piped


@app.callback()
def _options(ctx: typer.Context, debug: DebugAll = False) -> None:
    """Options for every command."""
    ctx.ensure_object(Run)


async def _until_signalled(main: object) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await main(stop)  # type: ignore[operator]


@app.command()
def dev(
    ctx: typer.Context,
    demo: Annotated[bool, typer.Option(help="load the demo data set on first start")] = True,
    audits_port: int = 8001,
    events_port: int = 8002,
    metrics_port: int = 8003,
    api_workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="processes per API (default: CPTED_API_WORKERS, else 1)")
    ] = None,
) -> None:
    """Run the whole platform (what `make run` calls)."""
    from cpted.dev import Ports, run

    logs.configure("WARNING")
    settings = settings_of(ctx)
    workers = api_workers or settings.api_workers
    run(settings, Ports(audits_port, events_port, metrics_port, api_workers=workers), demo=demo)


@app.command()
def migrate(ctx: typer.Context, debug: Debug = False) -> None:
    """Bring every schema to its latest revision."""
    from cpted.platform import migrate as upgrade

    asyncio.run(upgrade(settings_of(ctx).resolved_database_url()))
    console.print("migrated")


@app.command()
def relay(ctx: typer.Context, source: Annotated[str, typer.Argument(help="audits or events")]) -> None:
    """Publish one producer's outbox to its Redis stream (runs until stopped)."""
    from shared.bus.client import redis_client
    from shared.bus.relay import Relay

    if source not in ("audits", "events"):
        raise typer.BadParameter("source must be audits or events")
    logs.configure()
    settings = settings_of(ctx)
    tracing.install(f"relay-{source}", settings)
    heartbeat = _serve_health(settings, f"relay-{source}")

    async def main(stop: asyncio.Event) -> None:
        redis = redis_client(settings)
        relay = Relay(
            settings.resolved_database_url(),
            redis,
            source,
            settings.stream(source),
            batch=settings.relay_batch,
            poll_s=settings.relay_poll_s,
            heartbeat=heartbeat,
            partitions=settings.streams(source),
        )
        try:
            await relay.run(stop)
        finally:
            await redis.aclose()

    asyncio.run(_until_signalled(main))


@app.command()
def consume(ctx: typer.Context) -> None:
    """Apply the producers' streams to the metrics projections (runs until stopped)."""
    from services.metrics.projection import consumer

    logs.configure()
    settings = settings_of(ctx)
    tracing.install("consumer", settings)
    heartbeat = _serve_health(settings, "consumer")
    asyncio.run(_until_signalled(lambda stop: consumer.run(stop, settings, heartbeat)))


def _serve_health(settings: Settings, name: str) -> Any:
    """The worker's heartbeat and readiness (the database and Redis), answered on ``CPTED_HEALTH_PORT`` when set."""
    from shared.bus.health import Heartbeat, platform_checks, serve_health

    heartbeat = Heartbeat(settings.heartbeat_max_age_s)
    if settings.health_port:
        serve_health(settings.health_host, settings.health_port, heartbeat, name, platform_checks(settings))
    return heartbeat.beat


def _api_key(settings: Settings, given: str | None) -> str:
    if given:
        return given
    path = settings.var_dir / "dev-api-key"
    if path.exists():
        return path.read_text().strip()
    raise typer.BadParameter("give --api-key (or set CPTED_API_KEY), or run beside `make run`")


ApiKey = Annotated[
    str | None, typer.Option(envvar="CPTED_API_KEY", help="a service or admin key (it reads the event logs)")
]


def _replay(settings: Settings, api_key: str | None, label: str, replay: Any) -> Any:
    """Run ``replay(engine, log_clients, progress=...)`` over the producers' event logs, with a progress bar."""
    from shared.db.engine import get_engine

    headers = {"Authorization": f"Bearer {_api_key(settings, api_key)}"}

    async def main() -> Any:
        async with (
            httpx.AsyncClient(base_url=settings.audits_url, headers=headers, timeout=60) as audits,
            httpx.AsyncClient(base_url=settings.events_url, headers=headers, timeout=60) as events,
        ):
            with Progress(console=err) as bar:
                task = bar.add_task(label, total=None)
                logs = {"audits": audits, "events": events}
                return await replay(get_engine(settings), logs, progress=lambda s, n: bar.advance(task, n))

    return asyncio.run(main())


@app.command("rebuild-metrics")
def rebuild_metrics(ctx: typer.Context, api_key: ApiKey = None, debug: Debug = False) -> None:
    """Rebuild the metrics projections from zero out of the producers' event logs."""
    from services.metrics.projection.commands import rebuild

    applied = _replay(settings_of(ctx), api_key, "replaying events", rebuild)
    console.print(f"rebuilt the projections from {applied} events")


@app.command()
def reconcile(ctx: typer.Context, api_key: ApiKey = None, debug: Debug = False) -> None:
    """Apply every logged event the metrics projections lack, and report how many were missing."""
    from services.metrics.projection.commands import reconcile as run_reconcile

    report = _replay(settings_of(ctx), api_key, "comparing with the event logs", run_reconcile)
    for source, examined in report.examined.items():
        console.print(
            f"{source}: {examined} events in the log, {report.missing[source]} were missing and are now applied"
        )
    if report.repaired:
        console.print(f"repaired: {report.repaired} events")


@app.command("backup")
def backup_command(
    ctx: typer.Context,
    to: Annotated[Path | None, typer.Option(file_okay=False, help="where to put it; default <var_dir>/backups")] = None,
    debug: Debug = False,
) -> None:
    """Back up every schema and the photo store into a new folder, with a manifest.json."""
    from cpted.backup import backup
    from cpted.embedded import servers_for
    from services.audits.photos.settings import PhotoSettings

    with servers_for(settings_of(ctx)) as settings:
        folder = asyncio.run(backup(settings, PhotoSettings(), to or settings.var_dir / "backups"))
    console.print(f"backed up to {folder}")


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="a folder `cpted backup` made")],
    force: Annotated[bool, typer.Option("--force", help="replace a database that holds data")] = False,
    debug: Debug = False,
) -> None:
    """Restore a backup (the platform's processes stopped): checked, restored beside the database, migrated
    forward, the metrics projections caught up with the restored outboxes, then swapped in."""
    from cpted.backup import restore
    from cpted.embedded import servers_for
    from services.audits.photos.settings import PhotoSettings

    with servers_for(settings_of(ctx)) as settings:
        done = asyncio.run(restore(source, settings, PhotoSettings(), force=force))
    for schema, revisions in done.migrated.items():
        console.print(f"{schema}: migrated forward from {', '.join(revisions) or 'no revision'}")
    replaced = "; the database's former data was replaced" if done.replaced else ""
    console.print(
        f"restored {source}: {done.photos} photos, {done.caught_up} events applied to the projections{replaced}"
    )


@app.command("retention")
def retention(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what is due, remove nothing")] = False,
    as_json: Json = False,
    debug: Debug = False,
) -> None:
    """Remove what is past its retention period (CPTED_RETENTION_*), as the nightly task does, and say how
    many records of each kind went."""
    from cpted.retention import apply_retention

    report = asyncio.run(apply_retention(settings_of(ctx), dry_run=dry_run))
    column = "due" if dry_run else "removed"
    rows = [{"service": s, "kind": k, column: n} for s, kinds in report.items() for k, n in kinds.items()]
    show(rows, ["service", "kind", column], as_json=as_json)
    if dry_run:
        err.print("dry run: nothing was removed")


@app.command("demo")
def demo(ctx: typer.Context, debug: Debug = False) -> None:
    """Load the demo data set (each part once)."""
    from cpted.demo import load_demo_data
    from shared.db.engine import dispose_engines, get_engine

    async def main() -> list[str]:
        try:
            return await load_demo_data(get_engine(settings_of(ctx)))
        finally:
            await dispose_engines()

    loaded = asyncio.run(main())
    console.print(f"demo data loaded: {', '.join(loaded)}" if loaded else "the demo data was there already")


OnErrorOption = Annotated[str, typer.Option(help="reject: store nothing if a row is bad; skip: store the good rows")]


@app.command("import-incidents")
def import_incidents(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file with a header")],
    source: Annotated[str | None, typer.Option(help="source of rows without a source column")] = None,
    on_error: OnErrorOption = "reject",
    column: Annotated[list[str] | None, typer.Option(help="map a field to a column: occurred_at='Date Time'")] = None,
    encoding: Annotated[str, typer.Option(help="the file's encoding, e.g. cp1252")] = "utf-8",
    bad_rows: Annotated[
        Path | None, typer.Option(dir_okay=False, help="write every bad row (line, reason) to this CSV file")
    ] = None,
    debug: Debug = False,
) -> None:
    """Import crime incidents from a CSV file. Exit 0 stored, 1 failed, 2 bad usage,
    3 bad rows (reject: nothing stored), 4 bad rows skipped (skip: the good rows stored)."""
    from services.metrics.crime import importer
    from services.metrics.crime.domain.incidents import column_overrides
    from shared.db.engine import get_engine

    if on_error not in ("reject", "skip"):
        raise typer.BadParameter("--on-error is reject or skip")
    try:
        columns = column_overrides(column or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = settings_of(ctx)
    options = importer.options(settings.local_timezone, on_error, columns, source, encoding)
    with importer.bad_rows_file(bad_rows, options) as chosen:
        report = asyncio.run(importer.run(get_engine(settings), file, chosen, err))
    importer.print_errors(report, err, bad_rows)
    console.print(importer.summary(report, file), highlight=False)
    raise typer.Exit(importer.exit_code(report))


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="who or what uses the key")],
    scope: Annotated[str, typer.Option(help="admin, editor, reader, service or feed")] = "reader",
    partnership: Annotated[list[uuid.UUID] | None, typer.Option(help="for editor keys; repeatable")] = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1)] = None,
    debug: Debug = False,
) -> None:
    """Create a key; its plaintext is printed once and never stored."""
    from shared.auth.keys import Scope, issue_key

    try:
        scope_value = Scope(scope)
    except ValueError:
        raise typer.BadParameter("scope must be admin, editor, reader, service or feed") from None
    if scope_value is Scope.editor and not partnership:
        raise typer.BadParameter("an editor key needs at least one --partnership")
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None

    async def issue(session: AsyncSession) -> str:
        issued = await issue_key(
            session, name=name, scope=scope_value, partnership_ids=partnership or [], expires_at=expires
        )
        await session.commit()
        return f"{issued.id} {issued.plaintext}"

    console.print(_in_session(ctx, issue))


def _in_session(ctx: typer.Context, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one session on the platform's database (it commits what it changes)."""
    from shared.db.engine import dispose_engines, get_engine, session_factory

    async def main() -> T:
        try:
            async with session_factory(get_engine(settings_of(ctx)))() as session:
                return await work(session)
        finally:
            await dispose_engines()

    return asyncio.run(main())


def _read(ctx: typer.Context, statement: Any) -> list[dict[str, Any]]:
    """Rows of one query on the platform's database, as mappings."""

    async def rows(session: AsyncSession) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in await session.execute(statement)]

    return _in_session(ctx, rows)


@partnerships_app.command("list")
def partnerships_list(ctx: typer.Context, as_json: Json = False, debug: Debug = False) -> None:
    """The partnerships, by name: the ids `cpted report --partnership` takes."""
    from sqlalchemy import select

    from services.audits.tables import Partnership

    t = Partnership.__table__
    rows = _read(ctx, select(t.c.id, t.c.name, t.c.police_service, t.c.status).order_by(t.c.name))
    show(rows, ("id", "name", "police_service", "status"), as_json=as_json)


@audits_app.command("list")
def audits_list(
    ctx: typer.Context,
    partnership: Annotated[uuid.UUID | None, typer.Option(help="only this partnership's audits")] = None,
    as_json: Json = False,
    debug: Debug = False,
) -> None:
    """The audits, newest first."""
    from sqlalchemy import select

    from services.audits.tables import Audit

    t = Audit.__table__
    query = select(t.c.id, t.c.partnership_id, t.c.site_name, t.c.conducted_on, t.c.status)
    if partnership is not None:
        query = query.where(t.c.partnership_id == partnership)
    rows = _read(ctx, query.order_by(t.c.conducted_on.desc(), t.c.id))
    show(rows, ("id", "partnership_id", "site_name", "conducted_on", "status"), as_json=as_json)


@keys_app.command("list")
def keys_list(ctx: typer.Context, as_json: Json = False, debug: Debug = False) -> None:
    """List keys (never their plaintext), oldest first."""
    from sqlalchemy import select

    from shared.auth.keys import api_key

    rows = _read(ctx, select(api_key).order_by(api_key.c.created_at))
    show(rows, ("id", "name", "scope", "prefix", "expires_at", "revoked_at"), as_json=as_json)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: uuid.UUID, debug: Debug = False) -> None:
    """Revoke a key at once."""
    from shared.auth.keys import revoke_key

    async def revoke(session: AsyncSession) -> bool:
        done = await revoke_key(session, key_id)
        await session.commit()
        return done

    if not _in_session(ctx, revoke):
        err.print(f"[red]error:[/] no active key {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@app.command()
def clean(var_dir: Path = Path("var")) -> None:
    """Remove the local data directory (embedded servers must be stopped)."""
    from cpted.embedded import remove

    remove(var_dir)
    console.print(f"removed {var_dir}")


app.command("export")(export_command)
app.command("report")(report_command)
