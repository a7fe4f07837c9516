"""``cpted export`` and ``cpted report``: the lifecycle exports and a partnership's report, to a file or stdout.

Both read the database directly, as the operator's other commands do, with
the same code as the HTTP API (``GET /v1/.../export.csv``,
``GET /v1/reports/partnerships/{id}``), so a file made here equals the API's.
Data goes to standard output or ``--out``; messages and progress to standard
error. A file is written under a temporary name and renamed once complete, so
a failed run never leaves half a file.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cpted.command import Debug, err, settings_of
from shared.settings import Settings

Out = Annotated[Path | None, typer.Option("--out", "-o", dir_okay=False, help="file to write; default: stdout")]
Day = Annotated[str | None, typer.Option(metavar="YYYY-MM-DD")]


class What(StrEnum):
    audits = "audits"
    recommendations = "recommendations"


class Format(StrEnum):
    csv = "csv"
    geojson = "geojson"


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"


@contextmanager
def _sink(out: Path | None) -> Any:
    if out is None:
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    part = out.with_name(f".{out.name}.part")
    try:
        with part.open("wb") as file:
            yield file
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)


def _day(value: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


def _filters(what: What, given: dict[str, Any]) -> dict[str, Any]:
    """The list filters of the API, checked the same way; a filter of the other list is a usage error."""
    from services.audits.core.api.filters import AuditFilters, RecommendationFilters

    model = AuditFilters if what is What.audits else RecommendationFilters
    fields = model.__dataclass_fields__
    for name, value in given.items():
        if value is not None and name not in fields:
            option = "--" + name.removesuffix("_id").replace("_", "-")
            raise typer.BadParameter(f"not a filter of {what.value}", param_hint=option)
    chosen = model(**{k: v for k, v in given.items() if k in fields})
    return _typed(chosen.as_kwargs(), what)


def _typed(filters: dict[str, Any], what: What) -> dict[str, Any]:
    from shared.contracts.vocabulary import (
        AuditStatus,
        AuditTrigger,
        Priority,
        RecommendationCategory,
        RecommendationStatus,
    )

    kinds: dict[str, Any] = {"trigger": AuditTrigger, "category": RecommendationCategory, "priority": Priority}
    kinds["status"] = AuditStatus if what is What.audits else RecommendationStatus
    for name, kind in kinds.items():
        if filters.get(name) is not None:
            try:
                filters[name] = kind(filters[name])
            except ValueError:
                allowed = ", ".join(k.value for k in kind)
                raise typer.BadParameter(f"one of {allowed}", param_hint=f"--{name}") from None
    return filters


def _progress(what: str) -> Progress:
    columns = (SpinnerColumn(), TextColumn(f"exporting {what}"), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err, transient=True, disable=not err.is_terminal)  # no noise in a script's log


async def _export(
    settings: Settings,
    what: What,
    fmt: Format,
    filters: dict[str, Any],
    bom: bool,
    file: IO[bytes],
    tick: Callable[[int], None],
) -> None:
    from services.audits.core.handlers import exports
    from shared.db.engine import dispose_engines, get_engine

    ctx = exports.Context(None, filters, on_page=tick)
    engine = get_engine(settings)
    try:
        if fmt is Format.csv:
            chunks = await exports.csv_stream(engine, what.value, ctx, bom=bom)
        else:
            chunks = await exports.geojson_stream(engine, what.value, ctx)
        async for chunk in chunks:
            file.write(chunk)
    finally:
        await dispose_engines()


def export_command(
    ctx: typer.Context,
    what: Annotated[What, typer.Argument(help="audits or recommendations")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="csv for spreadsheets, geojson for a GIS")] = Format.csv,
    out: Out = None,
    bom: Annotated[bool, typer.Option(help="CSV only: start with a UTF-8 byte order mark (Excel)")] = False,
    partnership: Annotated[uuid.UUID | None, typer.Option(help="only this partnership")] = None,
    neighbourhood: Annotated[uuid.UUID | None, typer.Option(help="only this neighbourhood")] = None,
    audit: Annotated[uuid.UUID | None, typer.Option(help="recommendations of this audit")] = None,
    status: Annotated[str | None, typer.Option(help="audit or recommendation status")] = None,
    category: Annotated[str | None, typer.Option(help="recommendations: lighting, landscaping, ...")] = None,
    priority: Annotated[str | None, typer.Option(help="recommendations: low, medium or high")] = None,
    trigger: Annotated[str | None, typer.Option(help="audits: crime_statistics, resident_request, ...")] = None,
    conducted_from: Day = None,
    conducted_to: Day = None,
    debug: Debug = False,
) -> None:
    """Export every audit or recommendation with its whole lifecycle, filtered as the API's lists are."""
    filters = _filters(
        what,
        {
            "partnership_id": partnership, "neighbourhood_id": neighbourhood, "audit_id": audit, "status": status,
            "category": category, "priority": priority, "trigger": trigger,
            "conducted_from": _day(conducted_from, "--conducted-from"),
            "conducted_to": _day(conducted_to, "--conducted-to"),
        },
    )  # fmt: skip
    with _progress(what.value) as bar, _sink(out) as file:
        task = bar.add_task(what.value, total=None)
        asyncio.run(_export(settings_of(ctx), what, fmt, filters, bom, file, lambda n: bar.advance(task, n)))
        rows = int(bar.tasks[0].completed)
    err.print(f"exported {rows} {what.value} to {out or 'stdout'}", soft_wrap=True, highlight=False)


async def _lag(settings: Any, session: Any) -> int:
    """Logged changes the metrics projections have not applied, as the API counts them; unknown (0) on error."""
    from services.metrics.totals.handlers import consumer_lag
    from shared.bus.client import redis_client

    try:
        redis = redis_client(settings)
        try:
            return await consumer_lag(session, redis, settings)
        finally:
            await redis.aclose()
    except Exception:
        return 0


async def _report(settings: Settings, partnership_id: uuid.UUID, period: Any, form: ReportFormat) -> bytes:
    from services.metrics.report import handlers as reports
    from services.metrics.report import page, pdf
    from shared.auth.keys import Principal, Scope
    from shared.db.engine import dispose_engines, get_engine, session_factory

    operator = Principal(uuid.UUID(int=0), "cpted command line", Scope.admin)  # whoever can reach the database
    today = settings.clock().today()
    try:
        async with session_factory(get_engine(settings))() as session:
            report = await reports.partnership_report(
                session, operator, partnership_id, period, zone=settings.local_timezone, today=today,
                lag_events=await _lag(settings, session),
            )  # fmt: skip
        return pdf.render(report) if form is ReportFormat.pdf else page.render(report).encode()
    finally:
        await dispose_engines()


def report_command(
    ctx: typer.Context,
    partnership: Annotated[uuid.UUID, typer.Option(help="the partnership's id")],
    period: Annotated[str | None, typer.Option(help="a year (2026) or a quarter (2026-Q2); default this year")] = None,
    out: Out = None,
    form: Annotated[
        ReportFormat | None, typer.Option("--format", "-f", help="html or pdf; default: pdf when --out ends in .pdf")
    ] = None,
    debug: Debug = False,
) -> None:
    """A partnership's report as one HTML file (inline charts) or as a PDF."""
    from services.metrics.report.domain import parse_period

    settings = settings_of(ctx)
    try:
        chosen = parse_period(period or str(settings.clock().today().year))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None
    with err.status(f"building the {chosen.label} report"):
        form = form or (ReportFormat.pdf if out and out.suffix.lower() == ".pdf" else ReportFormat.html)
        document = asyncio.run(_report(settings, partnership, chosen, form))
    with _sink(out) as file:
        file.write(document)
    err.print(f"wrote the {chosen.label} report to {out or 'stdout'}", soft_wrap=True, highlight=False)
