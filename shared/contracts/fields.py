"""Field types every API uses, so each rule lives in one place."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError


def _no_nul(value: str) -> str:
    """PostgreSQL text holds neither NUL nor unpaired surrogates: refuse them here, not with a 500."""
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no unpaired surrogates)") from None
    return value


def _in_programme_range(value: date) -> date:
    if not date(1900, 1, 1) <= value <= date(2100, 12, 31):
        raise ValueError("date must be between 1900-01-01 and 2100-12-31")
    return value


def _in_programme_time(value: datetime) -> datetime:
    # Also keeps a time zone offset from carrying it past what PostgreSQL and Python can hold.
    if not 1900 <= value.year <= 2100:
        raise ValueError("time must be between 1900 and 2100")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000), AfterValidator(_no_nul)
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000), AfterValidator(_no_nul)]
Day = Annotated[date, AfterValidator(_in_programme_range)]
Moment = Annotated[AwareDatetime, AfterValidator(_in_programme_time)]
Instant = Annotated[datetime, AfterValidator(_in_programme_time)]  # a query's bound; without an offset, UTC
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]

# A position in an event log (outbox, audit trail) is a PostgreSQL bigint: a larger number is refused
# here rather than sent to SQL; the bound is below bigint's so that position arithmetic cannot overflow.
LogPosition = Annotated[int, Field(ge=0, le=2**62)]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped; numbers are finite.

    JSON bodies are also validated strictly (shared.web.inputs): ``"3"`` is no integer, ``"yes"``
    no boolean, a date-time no date.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class _Clearable:
    """Marks a field of a ``Patch`` that null empties; every other field refuses null."""

    def __repr__(self) -> str:
        return "Clearable"


_CLEARABLE = _Clearable()
_NULL = "may not be null; leave the field out to keep its value"
T = TypeVar("T")
Clearable = Annotated[T | None, _CLEARABLE]


class Patch(Input):
    """A partial update (PATCH): an absent field keeps its value, null empties only a ``Clearable`` field.

    Fields are declared ``X | None = None`` so that absence means "unchanged"; a null for a field
    the record cannot be without (a name, a date, a list) is refused with a 422 naming it, and the
    OpenAPI document does not offer null for it.
    """

    @classmethod
    def _clearable(cls, name: str) -> bool:
        return any(m is _CLEARABLE for m in cls.model_fields[name].metadata)

    @model_validator(mode="after")
    def _null_only_where_clearable(self) -> Patch:
        # After the fields, not around them: a validator wrapping a field would make pydantic read its
        # JSON value as a Python one, and strict JSON validation would then refuse a date or id string.
        nulls = [
            InitErrorDetails(type=PydanticCustomError("null_not_allowed", _NULL), loc=(name,), input=None)
            for name in type(self).model_fields
            if name in self.model_fields_set and getattr(self, name) is None and not self._clearable(name)
        ]
        if nulls:
            raise ValidationError.from_exception_data(type(self).__name__, nulls)
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        properties = handler.resolve_ref_schema(schema).get("properties", {})
        for name, prop in properties.items():
            if name in cls.model_fields and not cls._clearable(name):
                _drop_null(prop)
        return schema


def _drop_null(prop: dict[str, Any]) -> None:
    options = prop.get("anyOf")
    if not options or {"type": "null"} not in options:
        return
    rest = [o for o in options if o != {"type": "null"}]
    del prop["anyOf"]
    if len(rest) == 1:
        prop.update(rest[0])
    else:
        prop["anyOf"] = rest
    if prop.get("default", ...) is None:
        del prop["default"]


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)
