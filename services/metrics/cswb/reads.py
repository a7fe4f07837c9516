"""The bodies the feeds API answers with.

The module's path is part of the published OpenAPI document: two models are
named ``DeliveryRead`` (this one and the webhooks' one), so the document names
this one ``services__metrics__cswb__reads__DeliveryRead``. It stays here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from services.metrics.attempts import AttemptsRead
from shared.web.pagination import Page as _Page

FeedState = Literal["built", "pending", "delivered", "failed"]


class _Destination(BaseModel):
    destination: str
    state: Literal["pending", "retrying", "delivered", "failed"]
    revision: int


class DeliveryRead(AttemptsRead, _Destination):
    pass


class FeedRead(BaseModel):
    feed_date: date
    state: FeedState
    """built: no destination is configured; failed: at least one destination gave up; delivered: all have it."""
    revision: int
    digest: str
    size_bytes: int
    built_at: datetime
    changed_at: datetime
    deliveries: list[DeliveryRead]
    links: dict[str, str]


Page = _Page[FeedRead]


class Redelivery(BaseModel):
    feed_date: date
    queued: int
    destinations: list[str]
