"""Tables of the audits service (schema ``audits``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.bus.outbox import outbox_published_table, outbox_table
from shared.db.claims import idempotency_table
from shared.db.engine import new_metadata, timestamp_field

metadata = new_metadata("audits")


class AuditsTable(SQLModel, registry=registry(metadata=metadata)):
    pass


class Versioned(AuditsTable):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    version: int = Field(default=1)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Neighbourhood(Versioned, table=True):
    name: str = Field(max_length=200, index=True)
    municipality: str = Field(max_length=200, index=True)
    boundary: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    population: int | None = None


class Partnership(Versioned, table=True):
    name: str = Field(max_length=200, unique=True)
    police_service: str = Field(max_length=200)
    neighbourhood_ids: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid), nullable=False))
    safety_committees: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    business_improvement_areas: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    formalized_on: date | None = None
    status: str = Field(max_length=20, index=True)


class Audit(Versioned, table=True):
    partnership_id: uuid.UUID = Field(foreign_key="audits.partnership.id", index=True)
    neighbourhood_id: uuid.UUID = Field(foreign_key="audits.neighbourhood.id", index=True)
    site_name: str = Field(max_length=200)
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    conducted_on: date = Field(index=True)
    auditors: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    trigger: str = Field(max_length=30)
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    status: str = Field(max_length=20)


class Recommendation(Versioned, table=True):
    audit_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("audits.audit.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    category: str = Field(max_length=30, index=True)
    description: str
    responsible_party: str | None = Field(default=None, max_length=200)
    priority: str = Field(max_length=10)
    status: str = Field(max_length=20, index=True)
    implemented_on: date | None = None
    expected_on: date | None = None
    status_note: str | None = None


class RecommendationTransition(AuditsTable, table=True):
    __tablename__ = "recommendation_transition"
    __table_args__ = (Index(None, "recommendation_id", "recorded_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    recommendation_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("audits.recommendation.id", ondelete="CASCADE"), nullable=False)
    )
    from_status: str = Field(sa_column=Column("from_status", String(20), nullable=False))
    to_status: str = Field(sa_column=Column("to_status", String(20), nullable=False))
    on: date
    note: str | None = None
    actor: str | None = Field(default=None, max_length=100)
    recorded_at: datetime = timestamp_field()


class AuditRequest(Versioned, table=True):
    """A resident's or a 311 system's request for an audit of a place."""

    __tablename__ = "audit_request"

    place: str = Field(max_length=200)
    description: str
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    neighbourhood_id: uuid.UUID | None = Field(default=None, foreign_key="audits.neighbourhood.id", index=True)
    status: str = Field(max_length=20, index=True)
    # A deleted audit unlinks its requests instead of blocking the deletion.
    audit_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("audits.audit.id", ondelete="SET NULL"), index=True)
    )
    partnership_id: uuid.UUID | None = Field(default=None, foreign_key="audits.partnership.id", index=True)
    reason: str | None = None
    source: str = Field(max_length=20)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    media_url: str | None = Field(default=None, max_length=2000)
    received_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)  # type: ignore[call-overload]
    # When it became done or rejected: the requester's contact is erased a retention period after.
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)  # type: ignore[call-overload]


class AuditRequestRequester(AuditsTable, table=True):
    """Who asked: kept apart from the request so that no read or event of a request can carry it."""

    __tablename__ = "audit_request_requester"

    audit_request_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("audits.audit_request.id", ondelete="CASCADE"), primary_key=True)
    )
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    recorded_at: datetime = timestamp_field()


class Photo(AuditsTable, table=True):
    """A photo of an audited site or of a recommendation; its files are kept by ``photos/store/files.py``."""

    __table_args__ = (Index(None, "audit_id", "created_at", "id"), Index(None, "recommendation_id", "created_at"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Every photo names its audit, a recommendation's too, so that deleting an audit finds all of them.
    audit_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("audits.audit.id", ondelete="CASCADE"), nullable=False)
    )
    recommendation_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("audits.recommendation.id", ondelete="CASCADE"))
    )
    kind: str = Field(max_length=20)
    caption: str | None = None
    taken_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    taken_at_source: str | None = Field(default=None, max_length=10)
    location: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    location_source: str | None = Field(default=None, max_length=10)
    content_type: str = Field(max_length=20)
    width: int
    height: int
    bytes: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=300)
    thumbnail_key: str = Field(max_length=300)
    original_filename: str | None = Field(default=None, max_length=200)
    uploaded_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = timestamp_field()


outbox = outbox_table(metadata)
outbox_published = outbox_published_table(metadata)
idempotency = idempotency_table(metadata)
