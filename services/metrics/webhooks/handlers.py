"""Use cases of webhooks: manage subscriptions, enqueue deliveries with the projection, deliver them.

Deliveries are enqueued by the metrics consumer in the transaction that
applies the events (``enqueue``), one row per matching subscription and
event, so an event applied once is delivered once per subscription and an
event lost to a crash is neither applied nor enqueued. Each subscription
sees the events its owner's key would see in ``GET /v1/changes``
(``shared.bus.changes.Readership``). Celery workers deliver them
(``services.metrics.tasks``); the delivery row is locked for the length of
an attempt and names the attempt it expects (``token``: the attempts made),
so a duplicate or stale task does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.metrics.attempts import Outcome, outcome
from services.metrics.webhooks import domain, store
from services.metrics.webhooks.settings import WebhookSettings
from shared.auth.keys import Principal, Scope
from shared.bus.changes import Readership, event_types, parse_types, readership
from shared.contracts.events import Envelope
from shared.contracts.events.envelope import PRODUCERS
from shared.db.claims import take_claim
from shared.errors import Forbidden, InvalidField, NotFound
from shared.outbound.signing import post
from shared.web.pagination import decode_cursor, encode_cursor

log = logging.getLogger(__name__)
KNOWN_TYPES = event_types(PRODUCERS)


@dataclass(frozen=True)
class Ticket:
    """One attempt of one delivery to hand to a worker."""

    delivery_id: uuid.UUID
    token: int


# --- subscriptions ---------------------------------------------------------------------------------


def _require_manager(principal: Principal) -> None:
    if principal.scope not in (Scope.admin, Scope.editor):
        raise Forbidden("webhooks are managed with an admin key, or an editor key for its partnerships")


def _managed(principal: Principal) -> frozenset[uuid.UUID] | None:
    """The partnerships whose subscriptions this key manages; None for all of them (and the programme's)."""
    _require_manager(principal)
    return None if principal.is_admin else principal.partnership_ids


def _visible(principal: Principal, row: Row[Any] | None, id_: uuid.UUID) -> Row[Any]:
    managed = _managed(principal)
    if row is None or (managed is not None and not (row.partnership_ids and set(row.partnership_ids) <= managed)):
        raise NotFound(f"webhook {id_} not found")
    return row


def _target(url: str, env: str) -> str:
    try:
        return domain.check_target(url, env)
    except domain.BadTarget as exc:
        raise InvalidField(str(exc), field="body.url") from exc


def _types(types: list[str] | None) -> list[str] | None:
    wanted = parse_types(types, KNOWN_TYPES, field="body.types")
    return sorted(wanted) if wanted else None


def _partnerships(principal: Principal, wanted: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
    """An editor's subscription covers its partnerships (or some of them); an admin's may cover all."""
    if wanted is None:
        return None if principal.is_admin else sorted(principal.partnership_ids)
    unique = sorted(set(wanted))
    if not unique:
        raise InvalidField("name at least one partnership, or leave partnership_ids out", field="body.partnership_ids")
    if not principal.is_admin and not set(unique) <= principal.partnership_ids:
        raise Forbidden("this key may not subscribe to another partnership's events")
    return unique


async def create(engine: AsyncEngine, principal: Principal, body: dict[str, Any], *, env: str) -> Row[Any]:
    """``env``: the platform's (dev, test, prod), which decides whether a plain http target is allowed."""
    _require_manager(principal)
    values = {
        "id": uuid.uuid4(),
        "url": _target(body["url"], env),
        "types": _types(body.get("types")),
        "partnership_ids": _partnerships(principal, body.get("partnership_ids")),
        "description": body.get("description"),
        "secret": domain.new_secret(),
        "created_by": principal.actor,
    }
    async with engine.begin() as conn:
        added = await store.add_subscription(conn, **values)
        await take_claim(conn)  # an Idempotency-Key's claim commits with the subscription, or neither does
        return added


async def get(engine: AsyncEngine, principal: Principal, id_: uuid.UUID) -> Row[Any]:
    async with engine.connect() as conn:
        return _visible(principal, await store.subscription(conn, id_), id_)


async def page(
    engine: AsyncEngine, principal: Principal, cursor: str | None, limit: int
) -> tuple[Sequence[Row[Any]], str | None]:
    managed = _managed(principal)
    after = decode_cursor(cursor) if cursor else None
    async with engine.connect() as conn:
        rows = await store.subscriptions(conn, managed, after, limit + 1)
    return _paged(rows, limit)


def _paged(rows: Sequence[Row[Any]], limit: int) -> tuple[Sequence[Row[Any]], str | None]:
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id)


async def change(
    engine: AsyncEngine, principal: Principal, id_: uuid.UUID, changes: dict[str, Any], *, env: str
) -> Row[Any]:
    """Change the target, the types or the description; ``enabled: true`` turns a disabled subscription on."""
    values: dict[str, Any] = {}
    for required in ("url", "enabled"):
        if required in changes and changes[required] is None:
            raise InvalidField(f"{required} cannot be null", field=f"body.{required}")
    if "url" in changes:
        values["url"] = _target(changes["url"], env)
    if "types" in changes:
        values["types"] = _types(changes["types"])
    if "description" in changes:
        values["description"] = changes["description"]
    if "enabled" in changes:
        enabled = changes["enabled"]
        values |= {"enabled": enabled, "disabled_reason": None if enabled else f"disabled by {principal.actor}"}
        if enabled:
            values["consecutive_failures"] = 0
    async with engine.begin() as conn:
        row = _visible(principal, await store.subscription(conn, id_, for_update=True), id_)
        if not values:
            return row
        turned_on = values.get("enabled") is True and not row.enabled
        row = await store.change_subscription(conn, id_, **values)
        # What waited while it was off goes now, not at the next attempt its back-off had set.
        waiting = await store.due(conn, subscription_id=id_, grace=None) if turned_on else []
    await dispatch([Ticket(d.id, d.attempts) for d in waiting])
    return row


async def remove(engine: AsyncEngine, principal: Principal, id_: uuid.UUID) -> None:
    async with engine.begin() as conn:
        _visible(principal, await store.subscription(conn, id_, for_update=True), id_)
        await store.remove_subscription(conn, id_)


async def deliveries(
    engine: AsyncEngine, principal: Principal, id_: uuid.UUID, cursor: str | None, limit: int
) -> tuple[Sequence[Row[Any]], str | None]:
    after = decode_cursor(cursor) if cursor else None
    async with engine.connect() as conn:
        _visible(principal, await store.subscription(conn, id_), id_)
        return _paged(await store.deliveries(conn, id_, after, limit + 1), limit)


async def redeliver(engine: AsyncEngine, principal: Principal, id_: uuid.UUID, delivery_id: uuid.UUID) -> Row[Any]:
    """Send a delivery again, whatever became of it: one more attempt now (retried as usual if it fails)."""
    async with engine.begin() as conn:
        sub = _visible(principal, await store.subscription(conn, id_), id_)
        if await store.delivery(conn, id_, delivery_id) is None:
            raise NotFound(f"delivery {delivery_id} not found")
        if not sub.enabled:
            raise InvalidField("the webhook is disabled: PATCH it with enabled: true first", field="path.webhook_id")
        row = await store.reopen(conn, delivery_id)
        await take_claim(conn)
    await dispatch([Ticket(row.id, row.attempts)])
    return row


# --- enqueueing, in the consumer's transaction ----------------------------------------------------------


async def _readership(conn: AsyncConnection, sub: Row[Any]) -> Readership:
    if sub.partnership_ids is None:
        return await readership(conn, Scope.admin, (), store.neighbourhoods_of)
    return await readership(conn, Scope.editor, sub.partnership_ids, store.neighbourhoods_of)


async def enqueue(conn: AsyncConnection, events: Sequence[Envelope]) -> list[Ticket]:
    """One delivery per enabled subscription that wants and may see each event; the caller commits."""
    subscriptions = await store.enabled_subscriptions(conn) if events else []
    if not subscriptions:
        return []
    readers = {sub.id: await _readership(conn, sub) for sub in subscriptions}
    rows = []
    for event in events:
        data = event.model_dump(mode="json", by_alias=True)
        for sub in subscriptions:
            reader = readers[sub.id]
            if (sub.types and event.type not in sub.types) or not reader.sees(data):
                continue
            body = orjson.dumps(reader.shown(data))
            rows.append({"id": uuid.uuid4(), "subscription_id": sub.id, "event_id": event.id,
                         "event_type": event.type, "body": body})  # fmt: skip
    return [Ticket(id_, 0) for id_ in await store.add_deliveries(conn, rows)]


async def dispatch(tickets: Sequence[Ticket]) -> None:
    """Hand the deliveries to the workers; any the broker did not take are sent by the beat's sweep."""
    if not tickets:
        return
    from services.metrics import tasks  # the task module imports this one

    try:
        await asyncio.to_thread(tasks.enqueue_webhooks, tickets)
    except Exception as exc:
        log.warning("could not hand %d webhook deliveries to the workers (%s); the sweep will", len(tickets), exc)


async def due(engine: AsyncEngine, settings: WebhookSettings) -> list[Ticket]:
    """Deliveries due for a while that no worker took: their task was lost before the broker had it."""
    grace = timedelta(seconds=max(5.0, settings.webhook_sweep_every_s))
    async with engine.connect() as conn:
        return [Ticket(row.id, row.attempts) for row in await store.due(conn, grace=grace)]


# --- delivering ---------------------------------------------------------------------------------------


async def deliver(engine: AsyncEngine, settings: WebhookSettings, ticket: Ticket, client: httpx.AsyncClient) -> Outcome:
    async with engine.begin() as conn:
        row = await store.claim_delivery(conn, ticket.delivery_id)
        if row is None or row.state not in store.OPEN_STATES or row.attempts != ticket.token:
            return Outcome("skipped")
        if not row.enabled:
            return Outcome("skipped", error="the webhook is disabled")
        sent = domain.headers(str(row.event_id), row.event_type, str(row.id), row.body, row.secret, time.time())
        status, error = await post(client, row.url, row.body, sent)
        result, values = outcome(
            row.attempts + 1, status, error, max_attempts=settings.webhook_max_attempts,
            base_s=settings.webhook_backoff_base_s, max_s=settings.webhook_backoff_max_s,
        )  # fmt: skip
        await store.record_attempt(conn, row.id, values)
        if await store.count_outcome(conn, row.subscription_id, error is None, settings.webhook_disable_after):
            return Outcome("disabled", error=error)
    return result


def new_client(settings: WebhookSettings) -> httpx.AsyncClient:
    # Never follow a redirect: a delivery goes to the subscribed URL and nowhere else.
    return httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)
