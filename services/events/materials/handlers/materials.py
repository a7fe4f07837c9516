"""Use cases for outreach material, its translations and the language it is written in."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

from services.events.materials.domain import language_check
from services.events.materials.handlers.languages import tag
from services.events.materials.schemas import MaterialCreate, MaterialUpdate, TranslationBody
from services.events.materials.store import queries
from services.events.records import get, load
from services.events.tables import Material
from shared.auth.keys import Principal
from shared.auth.replay import replayed
from shared.clock import Clock
from shared.contracts.events.events import MaterialCreated, MaterialTranslated, MaterialUpdated
from shared.contracts.vocabulary import MaterialKind, MaterialTopic
from shared.db.records import state
from shared.db.uow import UnitOfWork
from shared.errors import Conflict, InvalidField, Problem
from shared.web.pagination import PageParams
from shared.web.versioning import apply_changes, check_if_match


class StigmatizingLanguage(Problem):
    status, type, title = 422, "stigmatizing-language", "Stigmatizing language"


def _translation(body: TranslationBody, default_day: date) -> dict[str, Any]:
    return {"title": body.title, "body": body.body, "translated_on": (body.translated_on or default_day).isoformat()}


def _translations(raw: dict[str, TranslationBody], today: date) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for given, body in raw.items():
        canonical = tag(given, f"body.translations.{given}")
        if canonical in found:
            raise InvalidField(f"{given!r} is the same language as {canonical!r}", field=f"body.translations.{given}")
        found[canonical] = _translation(body, today)
    return found


def _check_source(source: str, translations: dict[str, Any]) -> None:
    if source not in translations:
        raise InvalidField(f"translations has no text in the source language {source}", field="body.translations")


def findings(row: Material) -> list[dict[str, Any]]:
    """Stigmatizing terms in every title and body of the material."""
    found = []
    for lang, text in sorted(row.translations.items()):
        for part in ("title", "body"):
            for f in language_check.check(text[part], lang):
                found.append({"field": f"translations.{lang}.{part}"} | asdict(f))
    return found


def view(row: Material) -> dict[str, Any]:
    return row.model_dump() | {"languages": sorted(row.translations), "language_findings": findings(row)}


def _refuse_if_strict(row: Material, strict: bool) -> None:
    if strict and (found := findings(row)):
        raise StigmatizingLanguage(
            f"{len(found)} stigmatizing term(s) found; see findings for person-first alternatives",
            findings=found,
        )


def _emit(uow: UnitOfWork, event: type, row: Material) -> None:
    uow.emit(event, subject_id=row.id, subject_version=row.version, payload=state(row))


async def _replayed(uow: UnitOfWork, principal: Principal, body: MaterialCreate) -> Material | None:
    """A repeat of a create compares what was written: each language's title and body (dates default to the day)."""
    texts = {tag(lang, f"body.translations.{lang}"): (t.title, t.body) for lang, t in body.translations.items()}
    sent: dict[str, Any] = body.model_dump(include={"slug", "kind", "topic"})
    sent |= {"source_language": tag(body.source_language, "body.source_language"), "translations": texts}
    if body.published_on is not None:
        sent["published_on"] = body.published_on

    def stored(row: Material) -> dict[str, Any]:
        written = {lang: (t["title"], t["body"]) for lang, t in row.translations.items()}
        return {name: getattr(row, name) for name in sent} | {"translations": written}

    return await replayed(uow.session, principal, Material, body.id, sent, what="material", stored=stored)


async def create(
    uow: UnitOfWork, principal: Principal, body: MaterialCreate, strict: bool, clock: Clock
) -> tuple[dict[str, Any], bool]:
    """The material as the API shows it, and whether it is new (False: a repeat of the same create)."""
    principal.require_admin()
    today = clock.today()
    async with uow:
        if existing := await _replayed(uow, principal, body):
            return view(existing), False
        translations = _translations(body.translations, today)
        source = tag(body.source_language, "body.source_language")
        _check_source(source, translations)
        if await queries.slug_taken(uow.session, body.slug):
            raise Conflict(f"a material with slug {body.slug!r} exists already", field="body.slug")
        fields = body.model_dump(exclude={"id", "translations", "source_language", "published_on"})
        row = Material(
            id=body.id or uuid.uuid4(),
            source_language=source,
            translations=translations,
            published_on=body.published_on or today,
            **fields,
        )
        _refuse_if_strict(row, strict)
        uow.session.add(row)
        _emit(uow, MaterialCreated, row)
        await uow.commit()
    return view(row), True


async def update(
    uow: UnitOfWork,
    principal: Principal,
    id_: uuid.UUID,
    body: MaterialUpdate,
    if_match: str | None,
    strict: bool,
    clock: Clock,
) -> dict[str, Any]:
    principal.require_admin()
    changes = body.model_dump(exclude_unset=True)
    changes.pop("translations", None)
    async with uow:
        row: Material = await load(uow, Material, id_, for_update=True)
        check_if_match(if_match, row.version)
        if body.translations is not None:
            changes["translations"] = _translations(body.translations, clock.today())
        if "source_language" in changes:
            changes["source_language"] = tag(changes["source_language"], "body.source_language")
        source = changes.get("source_language", row.source_language)
        _check_source(source, changes.get("translations", row.translations))
        if body.slug and await queries.slug_taken(uow.session, body.slug, except_id=id_):
            raise Conflict(f"a material with slug {body.slug!r} exists already", field="body.slug")
        if apply_changes(row, changes):
            _refuse_if_strict(row, strict)
            _emit(uow, MaterialUpdated, row)
            await uow.commit()
    return view(row)


async def translate(
    uow: UnitOfWork,
    principal: Principal,
    id_: uuid.UUID,
    lang: str,
    body: TranslationBody,
    if_match: str | None,
    strict: bool,
    clock: Clock,
) -> tuple[dict[str, Any], bool]:
    """Add or replace one translation; True when the language is new."""
    principal.require_admin()
    language = tag(lang, "path.lang")
    async with uow:
        row: Material = await load(uow, Material, id_, for_update=True)
        check_if_match(if_match, row.version)
        added = language not in row.translations
        translations = row.translations | {language: _translation(body, clock.today())}
        if apply_changes(row, {"translations": translations}):
            _refuse_if_strict(row, strict)
            _emit(uow, MaterialTranslated, row)
            await uow.commit()
    return view(row), added


async def read(uow: UnitOfWork, id_: uuid.UUID) -> dict[str, Any]:
    return view(await get(uow, Material, id_))


async def listing(
    uow: UnitOfWork,
    page: PageParams,
    *,
    topic: MaterialTopic | None,
    kind: MaterialKind | None,
    language: str | None,
) -> tuple[Sequence[dict[str, Any]], str | None]:
    """One page of materials, each as the API shows it, and the cursor of the next."""
    wanted = tag(language, "query.language") if language else None
    async with uow:
        rows, cursor = await queries.list_materials(uow.session, page, topic=topic, kind=kind, language=wanted)
    return [view(r) for r in rows], cursor
