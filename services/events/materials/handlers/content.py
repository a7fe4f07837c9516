"""A material in one language, the one negotiated: as text, as a printable page, or as a PDF."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.events.materials.domain import printable
from services.events.materials.domain.languages import direction
from services.events.materials.domain.negotiation import Choice, MissingTranslation, choose
from services.events.materials.handlers.languages import tag
from services.events.records import get
from services.events.tables import Material
from shared.db.uow import UnitOfWork
from shared.errors import NotFound


class TranslationMissing(NotFound):
    type, title = "translation-missing", "Translation missing"


@dataclass(frozen=True)
class Negotiated:
    """The text in the language chosen, with what validators and file names are made of."""

    slug: str
    version: int
    updated_at: datetime
    text: dict[str, Any]

    @property
    def language(self) -> str:
        return str(self.text["language"])


def _negotiate(row: Material, lang: str | None, accept: str | None) -> Choice:
    if lang is not None:
        tag(lang, "query.lang")
    try:
        return choose(list(row.translations), row.source_language, lang=lang, accept=accept)
    except MissingTranslation as missing:
        raise TranslationMissing(
            f"material {row.slug} has no {lang} version; available: {', '.join(missing.available)}",
            field="query.lang",
            available_languages=missing.available,
        ) from missing


def _text(row: Material, choice: Choice) -> dict[str, Any]:
    text = row.translations[choice.language]
    return {
        "material_id": row.id,
        "slug": row.slug,
        "language": choice.language,
        "direction": direction(choice.language),
        "negotiated_by": choice.reason,
        "title": text["title"],
        "body": text["body"],
        "translated_on": text["translated_on"],
        "source_language": row.source_language,
        "available_languages": sorted(row.translations),
    }


async def content(uow: UnitOfWork, id_: uuid.UUID, lang: str | None, accept_language: str | None) -> Negotiated:
    """``?lang`` if given, else the best of ``Accept-Language``, else the source language."""
    row: Material = await get(uow, Material, id_)
    return Negotiated(row.slug, row.version, row.updated_at, _text(row, _negotiate(row, lang, accept_language)))


async def page(
    uow: UnitOfWork, id_: uuid.UUID, lang: str | None, accept_language: str | None
) -> tuple[Negotiated, str]:
    """The negotiated text as a printable HTML page."""
    found = await content(uow, id_, lang, accept_language)
    return found, printable.html(slug=found.slug, **_layout(found))


async def pdf(
    uow: UnitOfWork, id_: uuid.UUID, lang: str | None, accept_language: str | None
) -> tuple[Negotiated, bytes]:
    """The negotiated text as a PDF, dated by the material's last change; laid out off the event loop."""
    found = await content(uow, id_, lang, accept_language)
    document = await asyncio.to_thread(lambda: printable.pdf(slug=found.slug, made=found.updated_at, **_layout(found)))
    return found, document


def _layout(found: Negotiated) -> dict[str, str]:
    return {name: found.text[name] for name in ("language", "direction", "title", "body")}
