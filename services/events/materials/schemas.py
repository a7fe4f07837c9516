"""Request and response bodies of the material routes (never the tables, never the events)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from shared.contracts.fields import Count, Day, Input, Name, Output, Patch
from shared.contracts.vocabulary import Audience, Cohort, MaterialKind, MaterialTopic

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100)]
TopicSlug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,59}$")]
LanguageTag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=35)]
BodyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)]


class TranslationBody(Input):
    title: Name
    body: BodyText
    translated_on: Day | None = Field(default=None, description="defaults to today (local)")


class MaterialCreate(Input):
    id: uuid.UUID | None = None
    slug: Slug
    kind: MaterialKind
    topic: MaterialTopic
    source_language: LanguageTag
    published_on: Day | None = Field(default=None, description="defaults to today (local)")
    translations: dict[LanguageTag, TranslationBody] = Field(
        min_length=1, max_length=100, description="BCP 47 tag → title and body; must include the source language"
    )


class MaterialUpdate(Patch):
    slug: Slug | None = None
    kind: MaterialKind | None = None
    topic: MaterialTopic | None = None
    source_language: LanguageTag | None = None
    published_on: Day | None = None
    translations: dict[LanguageTag, TranslationBody] | None = Field(default=None, min_length=1, max_length=100)


class Source(Output):
    title: str
    publisher: str
    year: int | None = None
    url: str


class FindingRead(Output):
    field: str = Field(description="where in the material, e.g. translations.fr.body")
    start: int = Field(description="offset of the first character (Unicode code points)")
    end: int = Field(description="offset just past the last character")
    text: str
    term: str
    suggestions: list[str]
    source: Source


class TranslationRead(Output):
    title: str
    body: str
    translated_on: date


class MaterialRead(Output):
    id: uuid.UUID
    slug: str
    kind: MaterialKind
    topic: MaterialTopic
    source_language: str
    published_on: date
    translations: dict[str, TranslationRead]
    languages: list[str]
    language_findings: list[FindingRead] = Field(description="stigmatizing terms found in the text, with suggestions")
    version: int
    created_at: datetime
    updated_at: datetime


class ContentRead(Output):
    material_id: uuid.UUID
    slug: str
    language: str
    direction: str
    negotiated_by: str = Field(description="lang, accept-language or source")
    title: str
    body: str
    translated_on: date
    source_language: str
    available_languages: list[str]


class LanguageCheckRequest(Input):
    text: BodyText
    lang: LanguageTag = "en"


class LanguageCheckRead(Output):
    lang: str
    checked: bool = Field(description="false when there is no term list for this language yet")
    checked_languages: list[str]
    findings: list[FindingRead]


class DistributionCreate(Input):
    id: uuid.UUID | None = None
    material_id: uuid.UUID
    agency: Name
    language: LanguageTag
    copies: int = Field(ge=1, le=1_000_000)
    audience: Audience
    distributed_on: Day
    handed_to_at_risk: Count | None = Field(default=None, description="copies staff gave to people at risk (count)")
    handed_to_charged: Count | None = Field(default=None, description="copies given to people charged (count)")


class DistributionRead(Output):
    id: uuid.UUID
    material_id: uuid.UUID
    agency: str
    language: str
    copies: int
    audience: Audience
    distributed_on: date
    handed_to_at_risk: int | None
    handed_to_charged: int | None
    version: int
    created_at: datetime


class ReachedRead(Output):
    material_id: uuid.UUID
    slug: str
    copies: int
    languages: list[str]
    last_distributed_on: date | None


class MissingRead(Output):
    material_id: uuid.UUID
    slug: str


class AgencyCoverageRead(Output):
    agency: str
    complete: bool
    reached: list[ReachedRead]
    missing: list[MissingRead]


class CoverageRead(Output):
    audience: Audience
    materials: int
    agencies: list[AgencyCoverageRead]
    all_covered: bool


class TrainingCreate(Input):
    id: uuid.UUID | None = None
    agency: Name
    topic: TopicSlug = Field(description="e.g. non_stigmatizing_language")
    cohort: Cohort
    attendees: int = Field(ge=1, le=100_000)
    held_on: Day
    material_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class TrainingRead(Output):
    id: uuid.UUID
    agency: str
    topic: str
    cohort: Cohort
    attendees: int
    held_on: date
    material_ids: list[uuid.UUID]
    version: int
    created_at: datetime
