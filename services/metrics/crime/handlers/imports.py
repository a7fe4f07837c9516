"""Importing crime incidents: CSV streams and JSON batches, one transaction per import.

``on_error=reject`` stores nothing when any row is bad (the report lists them
all); ``on_error=skip`` stores the good rows and lists the bad ones. Either
way the rows stored are stored in one transaction, and a repeat of a
``(source, external_id)`` already stored changes nothing. Parsing and
placing a batch runs in a worker thread while the database loads the
previous one.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.crime.domain.csv_reader import CsvReader
from services.metrics.crime.domain.incidents import Row, RowError
from services.metrics.crime.domain.placement import Locator
from services.metrics.crime.handlers.ingest import FLUSH_ROWS, ImportReport, Ingest, OnError, Prepared
from services.metrics.crime.store import incidents as store
from shared.db.claims import take_claim
from shared.db.engine import UNHURRIED

__all__ = ["CsvOptions", "ImportReport", "OnError", "import_csv", "import_rows"]


@dataclass(frozen=True)
class CsvOptions:
    zone: str
    on_error: OnError = OnError.reject
    columns: Mapping[str, str] = field(default_factory=dict)
    default_source: str | None = None
    encoding: str = "utf-8"
    flush_rows: int = FLUSH_ROWS
    bad_rows: Callable[[Sequence[RowError]], None] | None = None
    """Given every bad row, in batches (the report keeps only the first of them)."""


Progress = Callable[[int], None]


async def import_csv(
    engine: AsyncEngine, chunks: AsyncIterator[bytes], options: CsvOptions, progress: Progress | None = None
) -> ImportReport:
    """Stream a CSV file into the incidents; raises ``HeaderError`` when the file cannot be read at all."""
    reader = CsvReader(
        options.zone, columns=options.columns, default_source=options.default_source, encoding=options.encoding
    )
    report = ImportReport(options.on_error, bad_rows=options.bad_rows)
    async with _transaction(engine, report, options.zone) as ingest:

        def prepare(chunk: bytes) -> Prepared:
            with _without_cycle_collection():
                return ingest.prepare(reader.feed(chunk))

        pending: asyncio.Task[None] | None = None
        async for chunk in chunks:
            batch = await asyncio.to_thread(prepare, chunk) if reader.ready(len(chunk)) else prepare(chunk)
            if progress:
                progress(len(chunk))
            if batch.records:
                if pending:
                    await pending
                pending = asyncio.create_task(ingest.store(batch, options.flush_rows))
        if pending:
            await pending
        await ingest.store(ingest.prepare(reader.finish()), options.flush_rows)
    return report


async def import_rows(
    engine: AsyncEngine, rows: Sequence[Row], zone: str, locator: Locator | None = None
) -> ImportReport:
    """A batch already validated (JSON, demo data): all or nothing. ``locator`` replaces the boundaries
    metrics knows, for a caller that knows them before metrics does."""
    report = ImportReport(OnError.reject)
    async with _transaction(engine, report, zone, locator) as ingest:
        await ingest.store(ingest.prepare(rows))
    return report


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """A batch allocates hundreds of thousands of short-lived lists and tuples, none in a cycle; the
    cycle collector would walk them again and again (it more than doubled the parse time), while
    reference counting frees them anyway. Off for the batch only, back on after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@asynccontextmanager
async def _transaction(
    engine: AsyncEngine, report: ImportReport, zone: str, locator: Locator | None = None
) -> AsyncIterator[Ingest]:
    """Open transaction, writer lock, locator and staging; commits unless the report says otherwise."""
    async with engine.connect() as conn:
        await conn.begin()
        await conn.execute(UNHURRIED)  # the upload is read between writes, and read on after a rejected row
        await store.lock_writers(conn)
        # Boundaries are read only once the lock is held, so a boundary change cannot slip in between.
        locator = locator or Locator.from_geojson(await store.boundaries(conn))
        ingest = Ingest(conn, locator, report, zone)
        yield ingest
        if report.on_error is OnError.reject and report.rejected:
            return
        await ingest.flush()
        await take_claim(conn)  # an Idempotency-Key's claim commits with the incidents, or neither does
        await conn.commit()
        report.committed = True
        report.duplicates = report.rows - report.rejected - report.stored
