"""The bodies the feeds API answers with."""

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


class FeedDeliveryRead(AttemptsRead, _Destination):
    pass


class FeedRead(BaseModel):
    feed_date: date
    state: FeedState
    """built: no destination is configured; failed: at least one destination gave up; delivered: all have it."""
    revision: int
    digest: str
    size_bytes: int | None
    """None once the retention policy removed the body."""
    built_at: datetime
    changed_at: datetime
    body_removed_at: datetime | None
    deliveries: list[FeedDeliveryRead]
    links: dict[str, str]


Page = _Page[FeedRead]


class Redelivery(BaseModel):
    feed_date: date
    queued: int
    destinations: list[str]
