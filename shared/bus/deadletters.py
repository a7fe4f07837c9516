"""The dead-letter stream: events a consumer gave up on, with their error; retryable."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import AfterValidator, BaseModel, Field, ValidationError
from redis.asyncio import Redis

from shared.auth.keys import CurrentKey
from shared.bus.changes import any_event
from shared.bus.client import together
from shared.errors import NotFound
from shared.web.pagination import Page

_ID_PART_MAX = 2**64 - 1  # each part of a Redis stream entry id is an unsigned 64-bit number


def _is_stream_id(value: str) -> bool:
    return all(int(part) <= _ID_PART_MAX for part in value.split("-"))


def _stream_id(value: str) -> str:
    if not _is_stream_id(value):
        raise ValueError("each part of a stream entry id is at most 18446744073709551615")
    return value


StreamId = Annotated[str, AfterValidator(_stream_id)]


KnownEvent = any_event()
_EVENT = "The event, typed by its type and version; its text when it is no event this version knows"


class DeadLetter(BaseModel):
    id: str
    stream: str
    entry_id: str
    group: str
    error: str
    deliveries: int
    failed_at: str
    event: Annotated[KnownEvent | str, Field(description=_EVENT)]  # type: ignore[valid-type]


def _decode(entry_id: bytes | str, fields: dict[bytes, bytes]) -> DeadLetter:
    text = {k.decode(): v.decode(errors="replace") for k, v in fields.items()}
    letter = {
        "id": entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        "stream": text.get("stream", ""),
        "entry_id": text.get("entry_id", ""),
        "group": text.get("group", ""),
        "error": text.get("error", ""),
        "deliveries": int(text.get("deliveries", "0") or 0),
        "failed_at": text.get("failed_at", ""),
    }
    try:
        return DeadLetter.model_validate({**letter, "event": orjson.loads(fields.get(b"event", b""))})
    except (orjson.JSONDecodeError, ValidationError):
        return DeadLetter.model_validate({**letter, "event": text.get("event", "")})


async def list_dead_letters(
    redis: Redis, stream: str, after: str | None, limit: int
) -> tuple[list[DeadLetter], str | None]:
    start = f"({after}" if after else "-"
    entries: Any = await redis.xrange(stream, min=start, max="+", count=limit + 1)
    letters = [_decode(i, f) for i, f in entries[:limit]]
    return letters, (letters[-1].id if len(entries) > limit else None)


async def retry(redis: Redis, stream: str, letter_id: str) -> DeadLetter:
    """Put the event back on its stream as a new entry, and take it off the dead letters."""
    if not _is_stream_id(letter_id):  # no entry can have it (Redis would refuse to look)
        raise NotFound(f"dead letter {letter_id} not found")
    entries: Any = await redis.xrange(stream, min=letter_id, max=letter_id, count=1)
    if not entries:
        raise NotFound(f"dead letter {letter_id} not found")
    letter = _decode(*entries[0])
    async with together(redis) as pipe:  # on a cluster: a crash between the two leaves the letter to retry again
        pipe.xadd(letter.stream, {"event": entries[0][1][b"event"]})
        pipe.xdel(stream, letter_id)
        await pipe.execute()
    return letter


async def remove_older_than(redis: Redis, stream: str, cutoff: datetime, dry_run: bool) -> int:
    """Dead letters that failed before the cutoff (an entry's id is the time it was dead-lettered), removed."""
    first_kept = f"{int(cutoff.timestamp() * 1000)}-0"
    if not dry_run:
        return int(await redis.xtrim(stream, minid=first_kept, approximate=False))
    due, start = 0, "-"
    while entries := await redis.xrange(stream, min=start, max=f"({first_kept}", count=1000):
        due += len(entries)
        last = entries[-1][0]
        start = f"({last.decode() if isinstance(last, bytes) else last}"
    return due


def dead_letter_router() -> APIRouter:
    router = APIRouter(prefix="/v1/bus/dead-letters", tags=["bus"])

    @router.get("", summary="Events that failed too often, with their error (service or admin)")
    async def dead_letters(
        request: Request,
        principal: CurrentKey,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[StreamId | None, Query(max_length=40, pattern=r"^\d+-\d+$")] = None,
    ) -> Page[DeadLetter]:
        principal.require_service()
        settings = request.app.state.settings
        items, next_cursor = await list_dead_letters(
            request.app.state.redis, settings.dead_letter_stream, cursor, limit
        )
        return Page(items=items, next_cursor=next_cursor)

    @router.post("/{letter_id}/retry", summary="Deliver a dead letter again (admin)")
    async def retry_dead_letter(
        request: Request,
        principal: CurrentKey,
        letter_id: Annotated[str, Path(max_length=40, pattern=r"^\d+-\d+$", description="id of the dead letter")],
    ) -> DeadLetter:
        principal.require_admin()
        return await retry(request.app.state.redis, request.app.state.settings.dead_letter_stream, letter_id)

    return router
