"""Creating a record with an id the client chose: a repeat of the create answers with the stored record.

A client that did not hear the answer to its create sends it again with the
same ``id``. What it gets back is judged by the record that is stored, never
by the body sent, so an id can never be used to reach another partnership's
record:

- a record of partnerships the key may not read does not exist for it (404);
- one it may read but not change is refused (403);
- a body that differs from the stored record is a conflict (409), as the same
  ``Idempotency-Key`` with another request is: the id is taken, by something else;
- an identical repeat answers with the stored record (200), creating nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.keys import Principal
from shared.errors import Conflict

R = TypeVar("R")

# The partnerships a stored record belongs to; None for records of no partnership (reference data, whose
# create is already limited to the keys that may write it).
Owners = Callable[[R], Awaitable[Iterable[uuid.UUID | None] | None]]


class IdTaken(Conflict):
    type, title = "id-taken", "The id is taken"


async def replayed(
    session: AsyncSession,
    principal: Principal,
    model: type[R],
    id_: uuid.UUID | None,
    sent: Mapping[str, Any],
    *,
    what: str,
    owners: Owners[R] | None = None,
    stored: Callable[[R], Mapping[str, Any]] | None = None,
) -> R | None:
    """The stored record a create with ``id_`` repeats, or None when there is none (create it).

    ``sent`` holds the values the create would store, by column name; ``stored`` gives the stored
    record's values to compare them with where a column is not stored as sent (else its attributes)."""
    if id_ is None:
        return None
    row = await session.get(model, id_)
    if row is None:
        return None
    if owners is not None and (partnerships := await owners(row)) is not None:
        partnerships = list(partnerships)
        principal.ensure_visible(partnerships, f"{what} {id_}")
        principal.require_write_any(partnerships)
    have = stored(row) if stored is not None else {name: getattr(row, name) for name in sent}
    differing = [name for name, value in sent.items() if _plain(value) != _plain(have[name])]
    if differing:
        raise IdTaken(
            f"{what} {id_} exists with other values ({', '.join(differing)}); send a new id to create another",
            field=f"body.{differing[0]}",
        )
    return row


def _plain(value: Any) -> Any:
    """A value as it compares across a request body and a stored row (ids as text, instants in UTC)."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.timestamp()
    return value
