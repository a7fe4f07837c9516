"""Idempotency claims: the row that makes a change with an ``Idempotency-Key`` happen once.

The web middleware (``shared.web.idempotency``) sets the request's claim; the unit
of work takes it in the transaction of the change, just before commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.contracts.events import Envelope
from shared.errors import Conflict


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_key",
        metadata,
        Column("principal", String(64), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status", Integer, nullable=True),
        Column("headers", JSONB, nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # The record the claimed change was about (its first event's subject): lets a lost answer be recovered.
        Column("subject_id", Uuid, nullable=True),
    )


@dataclass
class Claim:
    table: Table
    principal: str
    key: str
    fingerprint: str
    taken: bool = False
    recovering: bool = False
    """The claim exists already and has no answer: the request is re-run only to recover one."""


current_claim: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)


class KeyInUse(Conflict):
    type, title = "idempotency-key-in-use", "A request with this Idempotency-Key is in progress"


async def take_claim(session: AsyncSession | AsyncConnection, events: Sequence[Envelope] = ()) -> None:
    """Called by the unit of work (or a handler that commits itself) just before it commits: the claim and the
    change land together."""
    claim = current_claim.get()
    if claim is None or claim.taken:
        return
    if claim.recovering:  # the claimed change is committed: a re-run must not make it a second time
        raise KeyInUse("the change of this Idempotency-Key is already committed")
    row = {
        "principal": claim.principal,
        "key": claim.key,
        "fingerprint": claim.fingerprint,
        "subject_id": events[0].subject_id if events else None,
    }
    result = await session.execute(
        insert(claim.table).values(row).on_conflict_do_nothing().returning(claim.table.c.key)
    )
    if result.first() is None:
        raise KeyInUse("another request with this Idempotency-Key got there first; retry to get its answer")
    claim.taken = True
