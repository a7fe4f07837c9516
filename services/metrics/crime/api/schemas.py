"""Request and response bodies of the incidents API (never the tables)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from services.metrics.crime.domain.incidents import EARLIEST, normalize_category
from shared.contracts.fields import Input, Name, Output
from shared.contracts.geo import Point, PointRead

Short = Annotated[Name, StringConstraints(max_length=100)]
Category = Annotated[Short, AfterValidator(normalize_category)]


class IncidentCreate(Input):
    external_id: Name
    source: Short
    category: Category = Field(description="normalised: 'Break and Enter' becomes 'break_and_enter'")
    occurred_at: AwareDatetime
    location: Point | None = None
    neighbourhood_id: uuid.UUID | None = Field(
        default=None, description="used when there is no location; with a location, the point decides"
    )

    @model_validator(mode="after")
    def _somewhere(self) -> IncidentCreate:
        if self.location is None and self.neighbourhood_id is None:
            raise ValueError("an incident needs a location (Point) or a neighbourhood_id")
        if not EARLIEST <= self.occurred_at <= datetime.now(UTC) + timedelta(days=1):
            raise ValueError("occurred_at is before 1900 or in the future")
        return self


class IncidentRead(Output):
    id: uuid.UUID
    source: str
    external_id: str
    category: str
    occurred_at: datetime
    occurred_on: date = Field(description="the local (America/Toronto) day: what windows and daily counts use")
    location: PointRead | None
    neighbourhood_id: uuid.UUID | None = Field(description="where it is counted; null: a point outside every boundary")
    reported_neighbourhood_id: uuid.UUID | None
    created_at: datetime


class RowProblem(BaseModel):
    line: int
    reason: str


class ImportReportRead(BaseModel):
    on_error: str
    committed: bool = Field(description="false: nothing was stored")
    rows: int = Field(description="data rows read")
    stored: int = Field(description="new incidents stored")
    duplicates: int = Field(description="rows whose (source, external_id) was already stored, or repeated")
    rejected: int = Field(description="bad rows")
    unassigned: int = Field(description="new incidents whose point lies outside every known boundary")
    errors: list[RowProblem]
    errors_truncated: bool
    unassigned_lines: list[int] = Field(description="first lines (or list positions) of points outside every boundary")
    unknown_neighbourhood_ids: list[uuid.UUID] = Field(description="given neighbourhood ids metrics does not know")
