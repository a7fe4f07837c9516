"""Reading the feeds: the list with each feed's delivery state, one feed's bytes or its CSV twin."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.cswb.domain.document import to_csv
from services.metrics.cswb.handlers.feeds import removed
from services.metrics.cswb.reads import FeedState
from services.metrics.cswb.store import feeds as store
from shared.errors import InvalidField, NotFound


def shown(url: str) -> str:
    """A destination as the API shows it: no credentials or query string, which may hold a token."""
    scheme, _, rest = url.partition("://")
    host_and_path = rest.split("?", 1)[0].split("#", 1)[0]
    authority, slash, path = host_and_path.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def feed_state(deliveries: Sequence[Any]) -> FeedState:
    states = {d.state for d in deliveries}
    if not states:
        return "built"
    if "failed" in states:
        return "failed"
    return "delivered" if states == {"delivered"} else "pending"


def _read(row: Any, deliveries: Sequence[Any], base: str) -> dict[str, Any]:
    day = row.feed_date.isoformat()
    return {
        **row._asdict(),
        "state": feed_state(deliveries),
        "deliveries": [{**d._asdict(), "destination": shown(d.destination)} for d in deliveries],
        "links": {"json": f"{base}/{day}", "csv": f"{base}/{day}.csv"},
    }


def _cursor(day: date) -> str:
    return base64.urlsafe_b64encode(day.isoformat().encode()).decode().rstrip("=")


def _after(cursor: str | None) -> date | None:
    if cursor is None:
        return None
    try:
        return date.fromisoformat(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:
        raise InvalidField("cursor is not one this API issued", field="query.cursor") from None


async def list_feeds(
    session: AsyncSession, *, first: date | None, last: date | None, limit: int, cursor: str | None, base: str
) -> dict[str, Any]:
    """Newest date first."""
    rows = await store.list_feeds(session, before=_after(cursor), first=first, last=last, limit=limit + 1)
    page = rows[:limit]
    deliveries = await store.deliveries_of(session, [r.feed_date for r in page])
    return {
        "items": [_read(r, deliveries[r.feed_date], base) for r in page],
        "next_cursor": _cursor(page[-1].feed_date) if len(rows) > limit else None,
    }


async def feed_body(session: AsyncSession, day: date) -> tuple[bytes, str]:
    """The stored bytes, exactly as validated and delivered, and their SHA-256."""
    row = await store.feed_body(session, day)
    if row is None:
        raise NotFound(f"no CSWB feed for {day}")
    if row.body is None:
        raise NotFound(f"{removed(day, row.body_removed_at)}; its digest stays in the list of feeds")
    return bytes(row.body), row.digest


async def feed_csv(session: AsyncSession, day: date) -> tuple[str, str]:
    body, digest = await feed_body(session, day)
    return to_csv(orjson.loads(body)), digest
