"""The event envelope and the registry of event types.

Every event on the bus is one JSON envelope. Each ``(type, version)`` pair has
its own pydantic class whose ``payload`` is the full new state of the subject,
so a consumer never has to call a producer back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

Source = Literal["audits", "events"]


class Payload(BaseModel):
    """Base of every payload: unknown fields are ignored so that adding one is compatible."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, serialize_by_alias=True)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    source: Source
    subject_id: uuid.UUID
    subject_version: int = Field(ge=1, description="Version of the subject after this change")
    partnership_id: uuid.UUID | None = None
    partnership_ids: list[uuid.UUID] | None = None
    neighbourhood_id: uuid.UUID | None = None
    request_id: str | None = None
    actor: str | None = None
    payload: Any

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


class EventRegistry:
    """Maps ``(type, version)`` to its envelope class."""

    def __init__(self) -> None:
        self._classes: dict[tuple[str, int], type[Envelope]] = {}

    def define(self, type_name: str, payload: type[Payload], version: int = 1) -> type[Envelope]:
        class_name = "".join(part.title() for part in type_name.replace("_", ".").split(".")) + f"V{version}"
        cls: type[Envelope] = create_model(
            class_name,
            __base__=Envelope,
            type=(Literal[type_name], type_name),  # type: ignore[valid-type, arg-type]
            version=(Literal[version], version),  # type: ignore[valid-type, arg-type]
            payload=(payload, ...),
        )
        self._classes[(type_name, version)] = cls
        return cls

    def get(self, type_name: str, version: int = 1) -> type[Envelope] | None:
        return self._classes.get((type_name, version))

    def types(self) -> list[tuple[str, int]]:
        return sorted(self._classes)


registry = EventRegistry()


class UnknownEvent(ValueError):
    pass


def parse_event(raw: bytes | str | dict[str, Any]) -> Envelope:
    """Validate one envelope against the class of its type and version."""
    data = raw if isinstance(raw, dict) else orjson.loads(raw)
    cls = registry.get(str(data.get("type")), int(data.get("version", 1)))
    if cls is None:
        raise UnknownEvent(f"unknown event type {data.get('type')!r} version {data.get('version')!r}")
    return cls.model_validate(data)
