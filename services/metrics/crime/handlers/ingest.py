"""Placing, checking and storing batches of incident rows inside one open transaction."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np

# asyncpg's own UUID (a uuid.UUID): built from bytes four times faster than uuid.UUID(int=...).
from asyncpg.pgproto.pgproto import UUID as FastUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.crime.domain.incidents import Row, RowError
from services.metrics.crime.domain.placement import Locator
from services.metrics.crime.store import incidents as store
from services.metrics.totals.domain.contributions import NOWHERE

MAX_ERRORS_LISTED = 1000
MAX_LINES_LISTED = 100
FLUSH_ROWS = 200_000


class OnError(StrEnum):
    reject = "reject"
    skip = "skip"


@dataclass
class ImportReport:
    on_error: OnError
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    unassigned: int = 0
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)
    unassigned_lines: list[int] = field(default_factory=list)
    unknown_neighbourhood_ids: set[uuid.UUID] = field(default_factory=set)
    bad_rows: Callable[[Sequence[RowError]], None] | None = None

    @property
    def errors_truncated(self) -> bool:
        return self.rejected > len(self.errors)


@dataclass
class Prepared:
    """A batch ready to store: records in table column order, and what they add to the daily counts."""

    records: list[store.Record] = field(default_factory=list)
    daily: Counter[store.DayKey] = field(default_factory=Counter)
    unassigned: int = 0


class Ingest:
    """Checks, places and stores batches: COPY straight in while every row is new, else through staging.

    ``prepare`` is plain CPU work on one batch and runs in a worker thread while ``store`` waits on
    the database with the previous one."""

    def __init__(self, conn: AsyncConnection, locator: Locator, report: ImportReport, zone: str) -> None:
        self.conn, self.locator, self.report, self.zone = conn, locator, report, ZoneInfo(zone)
        self.known = set(locator.ids)
        self.direct = True
        self.daily: Counter[store.DayKey] = Counter()
        self.staged = 0
        self.id_base = store.id_base()

    def prepare(self, rows: Sequence[Row | RowError]) -> Prepared:
        good = self._sort(rows)
        if not good or (self.report.on_error is OnError.reject and self.report.rejected):
            return Prepared()  # a rejected file stores nothing: only its errors are still worth reading
        lines, sources, external_ids, categories, moments, lons, lats, given = zip(*good, strict=True)
        placed = self._place(lines, lons, lats, given)
        base, zone = self.id_base, self.zone
        ids = [FastUUID((base | line).to_bytes(16, "big")) for line in lines]
        # Times read without an offset already carry the local zone: their date is the local day.
        days = [at.date() if at.tzinfo is zone else at.astimezone(zone).date() for at in moments]
        records = list(
            zip(ids, sources, external_ids, categories, moments, days, lons, lats, placed, given, strict=True)
        )
        daily = Counter(zip([p or NOWHERE for p in placed], days, categories, strict=True))
        unassigned = sum(1 for p, lon in zip(placed, lons, strict=True) if p is None and lon is not None)
        return Prepared(records, daily, unassigned)

    async def store(self, batch: Prepared, flush_rows: int = FLUSH_ROWS) -> None:
        if not batch.records:
            return
        if self.direct:
            if await store.copy_direct(self.conn, batch.records):
                self.daily.update(batch.daily)
                self.report.stored += len(batch.records)
                self.report.unassigned += batch.unassigned
                return
            self.direct = False  # a repeated key: this import goes on through the staging table
        await store.stage(self.conn, batch.records)
        self.staged += len(batch.records)
        if self.staged >= flush_rows:
            await self.flush()

    async def flush(self) -> None:
        if self.daily:
            await store.add_daily(self.conn, self.daily)
            self.daily.clear()
        if self.staged:
            inserted, unassigned = await store.move_staged(self.conn)
            self.report.stored += inserted
            self.report.unassigned += unassigned
            self.staged = 0

    def _sort(self, rows: Sequence[Row | RowError]) -> list[Row]:
        good = [r for r in rows if type(r) is tuple]
        report = self.report
        report.rows += len(rows)
        if len(good) < len(rows):
            bad = sorted((r for r in rows if type(r) is RowError), key=lambda e: e.line)
            report.rejected += len(bad)
            report.errors.extend(bad[: max(0, MAX_ERRORS_LISTED - len(report.errors))])
            if report.bad_rows is not None:
                report.bad_rows(bad)
        return good

    def _place(
        self, lines: tuple[int, ...], lons: tuple[float | None, ...], lats: tuple[float | None, ...],
        given: tuple[uuid.UUID | None, ...],
    ) -> list[uuid.UUID | None]:  # fmt: skip
        """Points go where their boundary says; rows without a point keep the neighbourhood they gave."""
        with_point = range(len(lons)) if None not in lons else [i for i, x in enumerate(lons) if x is not None]
        placed = list(given)
        if with_point:
            lon = np.array([lons[i] for i in with_point] if len(with_point) < len(lons) else lons, dtype=float)
            lat = np.array([lats[i] for i in with_point] if len(with_point) < len(lats) else lats, dtype=float)
            for i, nid in zip(with_point, self.locator.place(lon, lat), strict=True):
                placed[i] = nid
        missing = [lines[i] for i, p in enumerate(placed) if p is None and lons[i] is not None]
        self.report.unassigned_lines.extend(missing[: max(0, MAX_LINES_LISTED - len(self.report.unassigned_lines))])
        unknown = {g for g, lon in zip(given, lons, strict=True) if g is not None and lon is None}
        self.report.unknown_neighbourhood_ids |= unknown - self.known
        return placed
