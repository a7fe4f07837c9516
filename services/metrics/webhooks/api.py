"""``/v1/webhooks``: subscriptions to the platform's events, their deliveries, redelivery."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from services.metrics.attempts import AttemptsRead
from services.metrics.webhooks import handlers
from shared.auth.keys import CurrentKey
from shared.contracts.fields import Input, Name, Output
from shared.web.pagination import MAX_LIMIT

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Url = Annotated[str, Field(min_length=8, max_length=2000, description="https URL the events are POSTed to")]
Types = Annotated[
    list[Annotated[str, Field(max_length=80)]] | None,
    Field(max_length=100, description="Only these event types (see GET /v1/changes); null for every type"),
]


class WebhookCreate(Input):
    url: Url
    types: Types = None
    partnership_ids: list[uuid.UUID] | None = Field(
        None,
        max_length=100,
        description="Only these partnerships' events. An editor's webhook defaults to its key's partnerships; "
        "an admin's, to every event.",
    )
    description: Name | None = None


class WebhookUpdate(Input):
    url: Url | None = None
    types: Types = None
    description: Name | None = None
    enabled: bool | None = Field(None, description="true turns a disabled webhook back on")


class WebhookRead(Output):
    id: uuid.UUID
    url: str
    types: list[str] | None
    partnership_ids: list[uuid.UUID] | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Signs every delivery (X-CPTED-Signature). Shown here only: keep it now.")


class WebhookPage(Output):
    items: list[WebhookRead]
    next_cursor: str | None


class _Event(Output):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    state: str = Field(description="pending, retrying, delivered or failed")


class WebhookDeliveryRead(AttemptsRead, _Event):
    created_at: datetime


class DeliveryPage(Output):
    items: list[WebhookDeliveryRead]
    next_cursor: str | None


def _env(request: Request) -> str:
    return str(request.app.state.settings.env)


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (max 500)")]
Cursor = Annotated[str | None, Query(max_length=300, description="next_cursor of the previous page")]


@router.post("", status_code=201, response_model=WebhookCreated, summary="Subscribe a URL to events")
async def create_webhook(body: WebhookCreate, request: Request, response: Response, principal: CurrentKey) -> Any:
    row = await handlers.create(request.app.state.engine, principal, body.model_dump(), env=_env(request))
    response.headers["Location"] = f"/v1/webhooks/{row.id}"
    return row


@router.get("", response_model=WebhookPage, summary="The webhooks this key manages, newest first")
async def list_webhooks(request: Request, principal: CurrentKey, limit: Limit = 50, cursor: Cursor = None) -> Any:
    rows, next_cursor = await handlers.page(request.app.state.engine, principal, cursor, limit)
    return {"items": rows, "next_cursor": next_cursor}


@router.get("/{webhook_id}", response_model=WebhookRead, summary="One webhook (never its secret)")
async def get_webhook(webhook_id: uuid.UUID, request: Request, principal: CurrentKey) -> Any:
    return await handlers.get(request.app.state.engine, principal, webhook_id)


@router.patch("/{webhook_id}", response_model=WebhookRead, summary="Change a webhook, or turn it back on")
async def update_webhook(webhook_id: uuid.UUID, body: WebhookUpdate, request: Request, principal: CurrentKey) -> Any:
    changes = body.model_dump(exclude_unset=True)
    return await handlers.change(request.app.state.engine, principal, webhook_id, changes, env=_env(request))


@router.delete("/{webhook_id}", status_code=204, summary="Unsubscribe (its delivery log goes too)")
async def delete_webhook(webhook_id: uuid.UUID, request: Request, principal: CurrentKey) -> None:
    await handlers.remove(request.app.state.engine, principal, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage, summary="The webhook's deliveries, newest first")
async def list_webhook_deliveries(
    webhook_id: uuid.UUID, request: Request, principal: CurrentKey, limit: Limit = 50, cursor: Cursor = None
) -> Any:
    rows, next_cursor = await handlers.deliveries(request.app.state.engine, principal, webhook_id, cursor, limit)
    return {"items": rows, "next_cursor": next_cursor}


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=WebhookDeliveryRead,
    summary="Send one delivery again now",
)
async def redeliver_webhook_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, request: Request, principal: CurrentKey
) -> Any:
    return await handlers.redeliver(request.app.state.engine, principal, webhook_id, delivery_id)
