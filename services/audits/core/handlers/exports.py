"""The lifecycle exports, streamed: CSV for spreadsheets, GeoJSON FeatureCollections for the city's GIS.

Rows are read through the lists' own queries, a page at a time, each page in
its own short transaction: an export of any size holds no snapshot open (which
would hold back vacuum) and never has more than one page in memory. A row
written during an export may or may not be in it, as with paging the list.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.audits.core.domain import exports
from services.audits.core.domain.places import centroid
from services.audits.core.store import exports as store
from services.audits.core.store import repository
from services.audits.ogc.domain import features as ogc_features
from services.audits.photos.store import queries as photos
from shared.db.engine import session_factory
from shared.web.pagination import PageParams

PAGE = 500
BOM = "\ufeff"

Row = dict[str, Any]
Page = list[tuple[Row, dict[str, Any]]]  # each export row with its GeoJSON feature
Reader = Callable[[AsyncSession, PageParams, "Context"], Any]


class Context:
    """What every page needs beside its rows: names and centroids of the (few) neighbourhoods and partnerships."""

    def __init__(
        self,
        visible: frozenset[uuid.UUID] | None,
        filters: Mapping[str, Any],
        on_page: Callable[[int], None] | None = None,
    ) -> None:
        self.visible = visible
        self.filters = dict(filters)
        self.on_page = on_page  # told how many rows each page had (a command line's progress bar)
        self.names: dict[uuid.UUID, str] = {}
        self.centroids: dict[uuid.UUID, tuple[float, float]] = {}

    async def load(self, session: AsyncSession) -> None:
        self.names = await store.names(session)
        self.centroids = {n.id: centroid(n.boundary) for n in await repository.all_neighbourhoods(session)}


async def _audit_page(session: AsyncSession, page: PageParams, ctx: Context) -> tuple[Page, str | None]:
    audits, cursor = await repository.list_audits(session, page, visible=ctx.visible, **ctx.filters)
    ids = [a.id for a in audits]
    recs = await store.recommendations_of(session, ids)
    history = await repository.history(session, [r.id for group in recs.values() for r in group])
    counts = await photos.counts(session, "audit_id", ids)
    found = []
    for audit in audits:
        row = exports.audit_row(audit, recs.get(audit.id, []), history, ctx.names, counts.get(audit.id, 0))
        found.append((row, ogc_features.audit(audit, ctx.centroids)))
    return found, cursor


async def _recommendation_page(session: AsyncSession, page: PageParams, ctx: Context) -> tuple[Page, str | None]:
    pairs, cursor = await repository.list_recommendations(session, page, visible=ctx.visible, **ctx.filters)
    history = await repository.history(session, [r.id for r, _ in pairs])
    counts = await photos.counts(session, "recommendation_id", [r.id for r, _ in pairs])
    found = []
    for rec, audit in pairs:
        row = exports.recommendation_row(rec, audit, history.get(rec.id, []), ctx.names, counts.get(rec.id, 0))
        found.append((row, ogc_features.recommendation(rec, audit, ctx.centroids)))
    return found, cursor


async def _pages(engine: AsyncEngine, read: Reader, ctx: Context) -> AsyncIterator[Page]:
    factory = session_factory(engine)
    cursor: str | None = None
    async with factory() as session:
        await ctx.load(session)
    while True:
        async with factory() as session:
            found, cursor = await read(session, PageParams(limit=PAGE, cursor=cursor), ctx)
        yield found
        if ctx.on_page:
            ctx.on_page(len(found))
        if cursor is None:
            return


READERS: dict[str, tuple[Reader, Sequence[str]]] = {
    "audits": (_audit_page, exports.AUDIT_COLUMNS),
    "recommendations": (_recommendation_page, exports.RECOMMENDATION_COLUMNS),
}


async def csv_stream(engine: AsyncEngine, what: str, ctx: Context, *, bom: bool) -> AsyncIterator[bytes]:
    """The header, then a chunk per page (the header alone when nothing matches).

    The first page is read before this returns, so a database that is down fails the request with a
    proper answer instead of cutting a file short.
    """
    read, columns = READERS[what]
    pages = _pages(engine, read, ctx)
    first = await anext(pages)

    async def chunks() -> AsyncIterator[bytes]:
        header = (BOM if bom else "") + exports.csv_text(columns, [], header=True)
        yield (header + exports.csv_text(columns, [row for row, _ in first])).encode()
        async for found in pages:
            yield exports.csv_text(columns, [row for row, _ in found]).encode()

    return chunks()


def _features(found: Page) -> bytes:
    """The OGC features (geometry and where it came from) with the export's lifecycle columns as properties."""
    features = []
    for row, feature in found:
        properties = {k: v for k, v in row.items() if k not in ("id", "longitude", "latitude")}
        features.append(orjson.dumps(feature | {"properties": feature["properties"] | properties}))
    return b",".join(features)


async def geojson_stream(engine: AsyncEngine, what: str, ctx: Context) -> AsyncIterator[bytes]:
    """A FeatureCollection, a chunk per page; the first page is read before this returns, as for CSV."""
    read, _ = READERS[what]
    pages = _pages(engine, read, ctx)
    first = await anext(pages)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"type":"FeatureCollection","name":"' + what.encode() + b'","features":[' + _features(first)
        separator = b"," if first else b""
        async for found in pages:
            if found:
                yield separator + _features(found)
                separator = b","
        yield b"]}"

    return chunks()
