"""The event envelope and the registry of event types.

Every event on the bus is one JSON envelope. Each ``(type, version)`` pair has
its own pydantic class whose ``payload`` is the full new state of the subject,
so a consumer never has to call a producer back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar, Union, get_args

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)

Source = Literal["audits", "events"]
PRODUCERS: tuple[Source, ...] = get_args(Source)
"""The services that publish events, each on its own stream and from its own schema's outbox."""


class Payload(BaseModel):
    """Base of every payload: unknown fields are ignored so that adding one is compatible."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, serialize_by_alias=True)


class Envelope(BaseModel):
    # An answer always carries every field, defaults included: its schema says so (required), and generated
    # clients read them as present.
    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_serialization_defaults_required=True)

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
    # The trace context of the write (W3C Trace Context), present only while tracing is on (docs/tracing.md).
    traceparent: str | None = Field(default=None, exclude_if=lambda v: v is None)
    tracestate: str | None = Field(default=None, exclude_if=lambda v: v is None)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


E = TypeVar("E", bound="Envelope")


class EventRegistry:
    """Maps ``(type, version)`` to its envelope class."""

    def __init__(self) -> None:
        self._classes: dict[tuple[str, int], type[Envelope]] = {}
        self._adapter: TypeAdapter[Envelope] | None = None

    def event(self, cls: type[E]) -> type[E]:
        """Register an envelope class under the ``type`` and ``version`` its fields fix (a class decorator)."""
        key = (cls.model_fields["type"].default, cls.model_fields["version"].default)
        if key in self._classes:
            raise ValueError(f"event {key[0]!r} version {key[1]} is defined twice")
        self._classes[key] = cls
        self._adapter = None
        return cls

    def get(self, type_name: str, version: int = 1) -> type[Envelope] | None:
        return self._classes.get((type_name, version))

    def types(self) -> list[tuple[str, int]]:
        return sorted(self._classes)

    def adapter(self) -> TypeAdapter[Envelope]:
        """One validator over every known event, choosing the class by type and version in one pass."""
        if self._adapter is None:
            members = tuple(Annotated[cls, Tag(_tag_of(t, v))] for (t, v), cls in self._classes.items())
            self._adapter = TypeAdapter(Annotated[Union[members], Discriminator(_discriminate)])  # type: ignore[arg-type]  # noqa: UP007
        return self._adapter


def _tag_of(type_name: object, version: object) -> str:
    return f"{type_name}@{version}"


def _discriminate(value: Any) -> str:
    if isinstance(value, dict):
        return _tag_of(value.get("type"), value.get("version", 1))
    return _tag_of(getattr(value, "type", None), getattr(value, "version", 1))


registry = EventRegistry()


class UnknownEvent(ValueError):
    pass


def parse_event(raw: bytes | str | dict[str, Any]) -> Envelope:
    """Validate one envelope against the class of its type and version."""
    adapter = registry.adapter()
    try:
        return adapter.validate_python(raw) if isinstance(raw, dict) else adapter.validate_json(raw)
    except ValidationError as exc:
        if any(error["type"] == "union_tag_invalid" for error in exc.errors()):
            data = raw if isinstance(raw, dict) else orjson.loads(raw)
            raise UnknownEvent(f"unknown event type {data.get('type')!r} version {data.get('version')!r}") from None
        raise
