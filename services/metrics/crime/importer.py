"""``cpted import-incidents FILE``: a CSV file straight into the metrics database, with a progress bar.

Exit codes scripts can rely on: 0 every good row stored (repeats of rows
already stored count as good), 1 the import failed (database unreachable,
file unreadable), 2 bad usage, 3 bad rows and ``--on-error reject``: nothing
stored, 4 bad rows skipped with ``--on-error skip``: the good rows stored.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.crime.handlers.imports import CsvOptions, ImportReport, OnError, import_csv

EXIT_OK, EXIT_FAILED, EXIT_REJECTED, EXIT_SKIPPED = 0, 1, 3, 4
SHOWN_ERRORS = 20
CHUNK = 1 << 20


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while data := await asyncio.to_thread(file.read, CHUNK):
            yield data


async def run(engine: AsyncEngine, path: Path, options: CsvOptions, err: Console) -> ImportReport:
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    size = (await asyncio.to_thread(path.stat)).st_size
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("import", total=size)
            return await import_csv(engine, _chunks(path), options, progress=lambda n: bar.advance(task, n))
    finally:
        await engine.dispose()


def summary(report: ImportReport, path: Path) -> str:
    if not report.committed:
        return f"rejected {path.name}: {report.rejected} of {report.rows} rows are bad; nothing stored"
    parts = [f"{report.duplicates} already stored", f"{report.unassigned} outside every neighbourhood"]
    if report.rejected:
        parts.append(f"{report.rejected} bad rows skipped")
    return f"stored {report.stored} new incidents from {report.rows} rows of {path.name} ({', '.join(parts)})"


def exit_code(report: ImportReport) -> int:
    if not report.committed:
        return EXIT_REJECTED
    return EXIT_SKIPPED if report.rejected else EXIT_OK


def print_errors(report: ImportReport, err: Console, written_to: Path | None = None) -> None:
    for error in report.errors[:SHOWN_ERRORS]:
        err.print(f"line {error.line}: {error.reason}", markup=False, highlight=False)
    if written_to is not None and report.rejected:
        err.print(f"all {report.rejected} bad rows are in {written_to}", markup=False, highlight=False)
    elif report.rejected > SHOWN_ERRORS:
        err.print(f"... and {report.rejected - SHOWN_ERRORS} more bad rows (--bad-rows FILE writes them all)")


def options(zone: str, on_error: str, columns: dict[str, str], source: str | None, encoding: str) -> CsvOptions:
    return CsvOptions(zone, OnError(on_error), columns, source, encoding)


@contextmanager
def bad_rows_file(path: Path | None, options: CsvOptions) -> Iterator[CsvOptions]:
    """With a path: every bad row goes to that CSV file (``line,reason``), not only the first ones shown."""
    if path is None:
        yield options
        return
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["line", "reason"])
        yield replace(options, bad_rows=lambda bad: writer.writerows((e.line, e.reason) for e in bad))


def one_line(exc: BaseException) -> str:
    """A failure as one line scripts can log: the database's own message, not SQLAlchemy's essay."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".removeprefix("HeaderError: ")
