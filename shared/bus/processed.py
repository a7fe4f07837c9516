"""The consumer's side of the bus: which events it has applied, recorded with their effect."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, func


def processed_events_table(metadata: MetaData) -> Table:
    """Ids of events a consumer has applied, written in the same transaction as the effect."""
    return Table(
        "processed_event",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("type", String(80), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
