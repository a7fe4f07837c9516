"""The ``cpted`` command line: run the platform, operate it, manage keys.

Exit codes: 0 success, 1 failure of the operation, 2 bad usage.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from shared import logs
from shared.settings import NotConfigured, Settings, get_settings

app = typer.Typer(help="CPTED partnerships platform", no_args_is_help=True, pretty_exceptions_enable=False)
keys_app = typer.Typer(help="Manage API keys", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()
err = Console(stderr=True)

Debug = Annotated[bool, typer.Option("--debug", help="show the full traceback on failure")]


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        raise exc
    err.print(f"[red]error:[/] {exc}")
    raise typer.Exit(1)


def _run(coro: object, debug: bool = False) -> object:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except (NotConfigured, OSError, RuntimeError, httpx.HTTPError) as exc:
        _fail(exc, debug)
    return None


async def _until_signalled(main: object) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await main(stop)  # type: ignore[operator]


@app.command()
def dev(
    demo: Annotated[bool, typer.Option(help="load the demo data set on first start")] = True,
    audits_port: int = 8001,
    events_port: int = 8002,
    metrics_port: int = 8003,
) -> None:
    """Run the whole platform (what `make run` calls)."""
    from cpted.dev import Ports, run

    logs.configure("WARNING")
    run(get_settings(), Ports(audits_port, events_port, metrics_port), demo=demo)


@app.command()
def migrate(debug: Debug = False) -> None:
    """Bring every schema to its latest revision."""
    from cpted.platform import migrate as upgrade

    _run(upgrade(get_settings().resolved_database_url()), debug)
    console.print("migrated")


@app.command()
def relay(source: Annotated[str, typer.Argument(help="audits or events")]) -> None:
    """Publish one producer's outbox to its Redis stream (runs until stopped)."""
    from shared.bus import redis_client
    from shared.relay import Relay

    if source not in ("audits", "events"):
        raise typer.BadParameter("source must be audits or events")
    logs.configure()
    settings = get_settings()

    async def main(stop: asyncio.Event) -> None:
        redis = redis_client(settings)
        relay = Relay(
            settings.resolved_database_url(),
            redis,
            source,
            settings.stream(source),
            batch=settings.relay_batch,
            poll_s=settings.relay_poll_s,
        )
        try:
            await relay.run(stop)
        finally:
            await redis.aclose()

    asyncio.run(_until_signalled(main))


@app.command()
def consume() -> None:
    """Apply the producers' streams to the metrics projections (runs until stopped)."""
    from services.metrics import consumer

    logs.configure()
    asyncio.run(_until_signalled(consumer.run))


def _api_key(settings: Settings, given: str | None) -> str:
    if given:
        return given
    path = settings.var_dir / "dev-api-key"
    if path.exists():
        return path.read_text().strip()
    raise typer.BadParameter("give --api-key (or set CPTED_API_KEY), or run beside `make run`")


def _log_clients(settings: Settings, key: str) -> dict[str, httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {key}"}
    return {
        "audits": httpx.AsyncClient(base_url=settings.audits_url, headers=headers, timeout=60),
        "events": httpx.AsyncClient(base_url=settings.events_url, headers=headers, timeout=60),
    }


ApiKey = Annotated[str | None, typer.Option(envvar="CPTED_API_KEY", help="a key that can read the event logs")]


@app.command("rebuild-metrics")
def rebuild_metrics(api_key: ApiKey = None, debug: Debug = False) -> None:
    """Rebuild the metrics projections from zero out of the producers' event logs."""
    from services.metrics.replay import rebuild
    from shared.db import get_engine

    settings = get_settings()
    clients = _log_clients(settings, _api_key(settings, api_key))

    async def main() -> int:
        try:
            with Progress(console=err) as bar:
                task = bar.add_task("replaying events", total=None)
                return await rebuild(get_engine(settings), clients, progress=lambda s, n: bar.advance(task, n))
        finally:
            for client in clients.values():
                await client.aclose()

    applied = _run(main(), debug)
    console.print(f"rebuilt the projections from {applied} events")


@app.command()
def reconcile(api_key: ApiKey = None, debug: Debug = False) -> None:
    """Apply every logged event the metrics projections lack, and report how many were missing."""
    from services.metrics.replay import reconcile as run_reconcile
    from shared.db import get_engine

    settings = get_settings()
    clients = _log_clients(settings, _api_key(settings, api_key))

    async def main() -> object:
        try:
            with Progress(console=err) as bar:
                task = bar.add_task("comparing with the event logs", total=None)
                return await run_reconcile(get_engine(settings), clients, progress=lambda s, n: bar.advance(task, n))
        finally:
            for client in clients.values():
                await client.aclose()

    report = _run(main(), debug)
    for source, examined in report.examined.items():  # type: ignore[attr-defined]
        console.print(
            f"{source}: {examined} events in the log, {report.missing[source]} were missing and are now applied"
        )  # type: ignore[attr-defined]
    if report.repaired:  # type: ignore[attr-defined]
        console.print(f"repaired: {report.repaired} events")  # type: ignore[attr-defined]


@app.command("demo")
def demo(debug: Debug = False) -> None:
    """Load the demo data set (once)."""
    from cpted.demo import load_demo
    from shared.db import get_engine

    loaded = _run(load_demo(get_engine(get_settings())), debug)
    console.print("demo data loaded" if loaded else "demo data was there already")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who or what uses the key")],
    scope: Annotated[str, typer.Option(help="admin, editor, reader or feed")] = "reader",
    partnership: Annotated[list[uuid.UUID] | None, typer.Option(help="for editor keys; repeatable")] = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1)] = None,
    debug: Debug = False,
) -> None:
    """Create a key; its plaintext is printed once and never stored."""
    from shared.auth import Scope, issue_key
    from shared.db import get_engine, session_factory

    try:
        scope_value = Scope(scope)
    except ValueError:
        raise typer.BadParameter("scope must be admin, editor, reader or feed") from None
    if scope_value is Scope.editor and not partnership:
        raise typer.BadParameter("an editor key needs at least one --partnership")
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None

    async def main() -> str:
        async with session_factory(get_engine(get_settings()))() as session:
            issued = await issue_key(
                session, name=name, scope=scope_value, partnership_ids=partnership or [], expires_at=expires
            )
            await session.commit()
            return f"{issued.id} {issued.plaintext}"

    line = _run(main(), debug)
    console.print(line)


@keys_app.command("list")
def keys_list(debug: Debug = False) -> None:
    """List keys (never their plaintext)."""
    from sqlalchemy import select

    from shared.auth import api_key
    from shared.db import get_engine, session_factory

    async def main() -> list:  # type: ignore[type-arg]
        async with session_factory(get_engine(get_settings()))() as session:
            return list((await session.execute(select(api_key).order_by(api_key.c.created_at))).all())

    rows = _run(main(), debug) or []
    table = Table("id", "name", "scope", "prefix", "expires", "revoked")
    for r in rows:  # type: ignore[attr-defined]
        table.add_row(str(r.id), r.name, r.scope, r.prefix, str(r.expires_at or ""), str(r.revoked_at or ""))
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: uuid.UUID, debug: Debug = False) -> None:
    """Revoke a key at once."""
    from shared.auth import revoke_key
    from shared.db import get_engine, session_factory

    async def main() -> bool:
        async with session_factory(get_engine(get_settings()))() as session:
            done = await revoke_key(session, key_id)
            await session.commit()
            return done

    if not _run(main(), debug):
        err.print(f"[red]error:[/] no active key {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@app.command()
def clean(var_dir: Path = Path("var")) -> None:
    """Remove the local data directory (embedded servers must be stopped)."""
    from cpted.embedded import remove

    remove(var_dir)
    console.print(f"removed {var_dir}")
