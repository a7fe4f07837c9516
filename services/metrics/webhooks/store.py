"""Webhook subscriptions and their deliveries (schema ``metrics``, revision ``metrics0301``).

``webhook_delivery`` has one row per subscription and event: the unique pair
is what makes an event applied twice unable to be delivered twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    case,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.totals.store.tables import metadata, subject
from shared.retention import delete_where

OPEN_STATES = ("pending", "retrying")

webhook_subscription = Table(
    "webhook_subscription",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(100), nullable=False),
    # NULL: every type; NULL partnerships: every partnership's events (an admin's subscription).
    Column("types", ARRAY(String(80)), nullable=True),
    Column("partnership_ids", ARRAY(Uuid), nullable=True),
    Column("description", String(200), nullable=True),
    Column("created_by", String(100), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    Column("disabled_reason", Text, nullable=True),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("subscription_id", Uuid, ForeignKey(webhook_subscription.c.id, ondelete="CASCADE"), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", String(80), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("state", String(20), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("state IN ('pending', 'retrying', 'delivered', 'failed')", name="state"),
    UniqueConstraint("subscription_id", "event_id"),
    Index("ix_webhook_delivery_subscription_created", "subscription_id", "created_at", "id"),
    Index("ix_webhook_delivery_due", "next_attempt_at", postgresql_where="state IN ('pending', 'retrying')"),
)

SUBSCRIPTION = webhook_subscription.c
DELIVERY = webhook_delivery.c


async def add_subscription(conn: AsyncConnection, **values: Any) -> Row[Any]:
    stmt = webhook_subscription.insert().values(**values).returning(webhook_subscription)
    return (await conn.execute(stmt)).one()


async def subscription(conn: AsyncConnection, id_: uuid.UUID, *, for_update: bool = False) -> Row[Any] | None:
    stmt = select(webhook_subscription).where(SUBSCRIPTION.id == id_)
    if for_update:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def subscriptions(
    conn: AsyncConnection, within: frozenset[uuid.UUID] | None, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> Sequence[Row[Any]]:
    """Newest first; ``within``: only the subscriptions to some of these partnerships, and to no other."""
    stmt = select(webhook_subscription)
    if within is not None:
        stmt = stmt.where(
            SUBSCRIPTION.partnership_ids.is_not(None), SUBSCRIPTION.partnership_ids.contained_by(list(within))
        )
    if after is not None:
        stmt = stmt.where(tuple_(SUBSCRIPTION.created_at, SUBSCRIPTION.id) < tuple_(*after))
    stmt = stmt.order_by(SUBSCRIPTION.created_at.desc(), SUBSCRIPTION.id.desc()).limit(limit)
    return (await conn.execute(stmt)).all()


async def change_subscription(conn: AsyncConnection, id_: uuid.UUID, **values: Any) -> Row[Any]:
    stmt = (
        update(webhook_subscription)
        .where(SUBSCRIPTION.id == id_)
        .values(**values, version=SUBSCRIPTION.version + 1, updated_at=func.now())
        .returning(webhook_subscription)
    )
    return (await conn.execute(stmt)).one()


async def remove_subscription(conn: AsyncConnection, id_: uuid.UUID) -> None:
    await conn.execute(webhook_subscription.delete().where(SUBSCRIPTION.id == id_))


async def enabled_subscriptions(conn: AsyncConnection) -> Sequence[Row[Any]]:
    return (await conn.execute(select(webhook_subscription).where(SUBSCRIPTION.enabled))).all()


async def neighbourhoods_of(conn: AsyncConnection, partnership_ids: frozenset[uuid.UUID]) -> frozenset[uuid.UUID]:
    """Where these partnerships work, as the metrics projections last heard it."""
    stmt = select(subject.c.state["neighbourhood_ids"]).where(
        subject.c.kind == "partnership", subject.c.id.in_(list(partnership_ids))
    )
    return frozenset(uuid.UUID(n) for row in (await conn.execute(stmt)).scalars() for n in row or [])


async def add_deliveries(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """The ids of the deliveries added; one already there for its subscription and event is left alone."""
    if not rows:
        return []
    stmt = insert(webhook_delivery).values(rows).on_conflict_do_nothing().returning(DELIVERY.id)
    return list((await conn.execute(stmt)).scalars())


async def claim_delivery(conn: AsyncConnection, id_: uuid.UUID) -> Row[Any] | None:
    """The delivery with its subscription, locked for one attempt; None while another attempt holds it."""
    stmt = (
        select(webhook_delivery, SUBSCRIPTION.url, SUBSCRIPTION.secret, SUBSCRIPTION.enabled)
        .join(webhook_subscription, SUBSCRIPTION.id == DELIVERY.subscription_id)
        .where(DELIVERY.id == id_)
        .with_for_update(of=webhook_delivery, skip_locked=True)
    )
    return (await conn.execute(stmt)).first()


async def record_attempt(conn: AsyncConnection, id_: uuid.UUID, values: dict[str, Any]) -> None:
    stmt = (
        update(webhook_delivery)
        .where(DELIVERY.id == id_)
        .values(**values, attempts=DELIVERY.attempts + 1, last_attempt_at=func.now())
    )
    await conn.execute(stmt)


async def count_outcome(conn: AsyncConnection, subscription_id: uuid.UUID, ok: bool, disable_after: int) -> bool:
    """Count a success (the failures in a row start again) or a failure; True when the subscription is now off."""
    failures = 0 if ok else SUBSCRIPTION.consecutive_failures + 1
    trips = and_(SUBSCRIPTION.enabled, SUBSCRIPTION.consecutive_failures + 1 >= disable_after) if not ok else None
    values: dict[str, Any] = {"consecutive_failures": failures}
    if trips is not None:
        values |= {
            "enabled": case((trips, False), else_=SUBSCRIPTION.enabled),
            "disabled_reason": case(
                (trips, f"disabled after {disable_after} failed attempts in a row"),
                else_=SUBSCRIPTION.disabled_reason,
            ),
            "version": case((trips, SUBSCRIPTION.version + 1), else_=SUBSCRIPTION.version),
            "updated_at": case((trips, func.now()), else_=SUBSCRIPTION.updated_at),
        }
    stmt = update(webhook_subscription).where(SUBSCRIPTION.id == subscription_id).values(**values)
    stmt = stmt.returning(SUBSCRIPTION.enabled)
    enabled = (await conn.execute(stmt)).scalar_one_or_none()
    return enabled is False


async def deliveries(
    conn: AsyncConnection, subscription_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> Sequence[Row[Any]]:
    stmt = select(webhook_delivery).where(DELIVERY.subscription_id == subscription_id)
    if after is not None:
        stmt = stmt.where(tuple_(DELIVERY.created_at, DELIVERY.id) < tuple_(*after))
    stmt = stmt.order_by(DELIVERY.created_at.desc(), DELIVERY.id.desc()).limit(limit)
    return (await conn.execute(stmt)).all()


async def delivery(conn: AsyncConnection, subscription_id: uuid.UUID, id_: uuid.UUID) -> Row[Any] | None:
    stmt = select(webhook_delivery).where(DELIVERY.subscription_id == subscription_id, DELIVERY.id == id_)
    return (await conn.execute(stmt.with_for_update())).first()


async def reopen(conn: AsyncConnection, id_: uuid.UUID) -> Row[Any]:
    """Due again now; the attempts so far stay counted (they are the token of the next one)."""
    stmt = (
        update(webhook_delivery)
        .where(DELIVERY.id == id_)
        .values(state="pending", next_attempt_at=func.now(), delivered_at=None)
        .returning(webhook_delivery)
    )
    return (await conn.execute(stmt)).one()


async def due(
    conn: AsyncConnection,
    *,
    subscription_id: uuid.UUID | None = None,
    grace: timedelta | None = timedelta(0),
    limit: int = 1000,
) -> Sequence[Any]:
    """Open deliveries of enabled subscriptions whose next attempt is due (``grace`` ago or earlier; any time
    when ``grace`` is None)."""
    stmt = (
        select(DELIVERY.id, DELIVERY.attempts)
        .join(webhook_subscription, SUBSCRIPTION.id == DELIVERY.subscription_id)
        .where(
            SUBSCRIPTION.enabled,
            DELIVERY.state.in_(OPEN_STATES),
        )
        .order_by(DELIVERY.next_attempt_at)
        .limit(limit)
    )
    if grace is not None:
        stmt = stmt.where(or_(DELIVERY.next_attempt_at.is_(None), DELIVERY.next_attempt_at <= func.now() - grace))
    if subscription_id is not None:
        stmt = stmt.where(DELIVERY.subscription_id == subscription_id)
    return (await conn.execute(stmt)).all()


async def remove_finished_before(conn: AsyncConnection, cutoff: datetime, dry_run: bool) -> int:
    """Deliveries delivered or given up whose last attempt was before the cutoff; open ones always stay."""
    last = func.coalesce(DELIVERY.delivered_at, DELIVERY.last_attempt_at, DELIVERY.created_at)
    finished = and_(DELIVERY.state.not_in(OPEN_STATES), last < cutoff)
    return await delete_where(conn, webhook_delivery, finished, dry_run)
