"""Cursor pagination: ``{"items": [...], "next_cursor": ...}``, keyset on ``(created_at or updated_at, id)``.

Every list takes ``sort`` (``-created_at``, the default: newest first; ``created_at``; ``updated_at``;
``-updated_at``) and ``updated_since``, so a system that keeps a copy syncs only what changed:
``?sort=updated_at&updated_since=<the last updated_at it saw>`` and follow ``next_cursor``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import InvalidField

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class Sort(StrEnum):
    newest = "-created_at"
    oldest = "created_at"
    changed = "updated_at"
    recently_changed = "-updated_at"

    @property
    def column(self) -> str:
        return self.value.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


class PageParams(BaseModel):
    limit: int
    cursor: str | None
    sort: Sort = Sort.newest
    updated_since: datetime | None = None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (max 500)")] = 50,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


# Lists in one fixed order of their own (incidents by time, feeds by date).
CursorDep = Annotated[PageParams, Depends(page_params)]


async def record_page_params(
    base: CursorDep,
    sort: Annotated[Sort, Query(description="Order of the items; `-` is descending")] = Sort.newest,
    updated_since: Annotated[
        AwareDatetime | None,
        Query(description="Only items changed at or after this instant (RFC 3339 with an offset)"),
    ] = None,
) -> PageParams:
    return base.model_copy(update={"sort": sort, "updated_since": updated_since})


# Lists of records: any order, and only what changed.
PageDep = Annotated[PageParams, Depends(record_page_params)]


def encode_cursor(at: datetime, id_: uuid.UUID, sort: Sort = Sort.newest) -> str:
    parts = [at.isoformat(), str(id_)] + ([] if sort is Sort.newest else [sort.value])
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort = Sort.newest) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, id_, *rest = orjson.loads(raw)
        issued_for = Sort(rest[0]) if rest else Sort.newest
        position = datetime.fromisoformat(at), uuid.UUID(id_)
    except Exception as exc:
        raise InvalidField("cursor is not one this API issued", field="query.cursor") from exc
    if issued_for is not sort:
        raise InvalidField(f"this cursor belongs to sort={issued_for.value}", field="query.cursor")
    return position


def _sort_column(model: Any, sort: Sort) -> Any:
    # Records that never change (photos) have no updated_at: their creation is their last change.
    column = getattr(model, sort.column, None)
    return model.created_at if column is None else column


async def paginate(
    session: AsyncSession, stmt: Select[Any], model: Any, params: PageParams
) -> tuple[Sequence[Any], str | None]:
    """In the asked order (newest first by default); returns the rows of one page and the cursor of the next.

    ``model`` is an ORM class (the page holds its instances) or a Core table's columns, ``table.c``
    (the page holds rows).
    """
    column = _sort_column(model, params.sort)
    if params.updated_since is not None:
        stmt = stmt.where(_sort_column(model, Sort.changed) >= params.updated_since)
    if params.cursor:
        position = tuple_(column, model.id)
        after = tuple_(*decode_cursor(params.cursor, params.sort))
        stmt = stmt.where(position < after if params.sort.descending else position > after)
    order = (column.desc(), model.id.desc()) if params.sort.descending else (column.asc(), model.id.asc())
    stmt = stmt.order_by(*order).limit(params.limit + 1)
    result = await session.execute(stmt)
    rows = list(result.scalars().all() if isinstance(model, type) else result.all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, column.key), last.id, params.sort)
    return rows, next_cursor
