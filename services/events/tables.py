"""Tables of the events service (schema ``events``): every capability's, in one metadata, as the
migrations are one history.

Times are stored UTC (``timestamptz``); an event's partnerships are an array
so that "events of partnership P" is one indexed overlap query.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.bus.outbox import outbox_published_table, outbox_table
from shared.db.claims import idempotency_table
from shared.db.engine import new_metadata, timestamp_field

metadata = new_metadata("events")


class EventsTable(SQLModel, registry=registry(metadata=metadata)):
    pass


class Versioned(EventsTable):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    version: int = Field(default=1)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class CommunityEvent(Versioned, table=True):
    __tablename__ = "event"
    __table_args__ = (Index(None, "partnership_ids", postgresql_using="gin"),)

    partnership_ids: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid), nullable=False))
    name: str = Field(max_length=200)
    kind: str = Field(max_length=30, index=True)
    special: bool = Field(default=False)
    starts_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)  # type: ignore[call-overload]
    ends_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    neighbourhood_id: uuid.UUID | None = Field(default=None, index=True)
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    officers_attending: int = 0
    attendance: int | None = None
    status: str = Field(max_length=20, index=True)
    description: str | None = None


class Material(Versioned, table=True):
    slug: str = Field(max_length=100, unique=True)
    kind: str = Field(max_length=20)
    topic: str = Field(max_length=30, index=True)
    source_language: str = Field(max_length=35)
    published_on: date
    translations: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))


class Distribution(Versioned, table=True):
    material_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("events.material.id"), nullable=False, index=True))
    agency: str = Field(max_length=200, index=True)
    language: str = Field(max_length=35)
    copies: int
    audience: str = Field(max_length=20)
    distributed_on: date = Field(index=True)
    handed_to_at_risk: int | None = None
    handed_to_charged: int | None = None


class Training(Versioned, table=True):
    agency: str = Field(max_length=200, index=True)
    topic: str = Field(max_length=60, index=True)
    cohort: str = Field(max_length=20)
    attendees: int
    held_on: date = Field(index=True)
    material_ids: list[uuid.UUID] = Field(default_factory=list, sa_column=Column(ARRAY(Uuid), nullable=False))


class Stakeholder(Versioned, table=True):
    partnership_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=30)
    neighbourhood_id: uuid.UUID | None = Field(default=None, index=True)
    connected_on: date = Field(index=True)
    status: str = Field(max_length=20)
    notes: str | None = None


outbox = outbox_table(metadata)
outbox_published = outbox_published_table(metadata)
idempotency = idempotency_table(metadata)
