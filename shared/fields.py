"""Field types every API uses, so each rule lives in one place."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


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


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000), AfterValidator(_no_nul)
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000), AfterValidator(_no_nul)]
Day = Annotated[date, AfterValidator(_in_programme_range)]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)
