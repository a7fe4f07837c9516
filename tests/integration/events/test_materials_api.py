"""Outreach material on real PostgreSQL: language tags, translations, negotiation, printing, the language check."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.events.factories import material

PROBLEM = "application/problem+json"
ARABIC = {"title": "ما هو تدقيق CPTED؟", "body": "يتجول السكان والضباط في الحي معًا."}


async def _material_rows(engine: AsyncEngine) -> tuple[int, int, Any]:
    async with engine.connect() as conn:
        n = (await conn.execute(text("SELECT count(*) FROM events.material"))).scalar_one()
        out = (await conn.execute(text("SELECT count(*) FROM events.outbox"))).scalar_one()
        tr = (await conn.execute(text("SELECT translations::text FROM events.material ORDER BY id"))).scalars().all()
        return int(n), int(out), tr


@pytest.fixture
async def brochure(events_api: httpx.AsyncClient) -> dict[str, Any]:
    r = await events_api.post("/v1/materials", json=material())
    assert r.status_code == 201, r.text
    return r.json()


async def test_tags_are_canonicalized_and_the_source_must_have_text(events_api: httpx.AsyncClient) -> None:
    body = material(
        source_language="EN", translations={"EN": {"title": "T", "body": "B"}, "fr-ca": {"title": "T", "body": "B"}}
    )
    r = await events_api.post("/v1/materials", json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["source_language"], r.json()["languages"]) == ("en", ["en", "fr-CA"])
    missing = await events_api.post("/v1/materials", json=material(source_language="ar"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.translations"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"translations": {"en": {"title": "T", "body": "B"}, "xx-YY": {"title": "T", "body": "B"}}},
            "body.translations.xx-YY",
        ),
        (
            {"translations": {"en": {"title": "T", "body": "B"}, "english": {"title": "T", "body": "B"}}},
            "body.translations.english",
        ),
        (
            {"translations": {"en": {"title": "T", "body": "B"}, "EN": {"title": "T", "body": "B"}}},
            "body.translations.EN",
        ),
        ({"source_language": "und"}, "body.source_language"),
        ({"slug": "Not A Slug"}, "body.slug"),
        ({"translations": {"en": {"title": "T", "body": "x" * 100_001}}}, "body.translations.en.body"),
    ],
)
async def test_bad_material_input_names_the_field_and_stores_nothing(
    events_api: httpx.AsyncClient, engine: AsyncEngine, change: dict[str, Any], field: str
) -> None:
    before = await _material_rows(engine)
    r = await events_api.post("/v1/materials", json=material() | change)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in r.json()["errors"]]
    assert await _material_rows(engine) == before


async def test_put_adds_then_replaces_a_translation(events_api: httpx.AsyncClient, brochure: dict[str, Any]) -> None:
    url = f"/v1/materials/{brochure['id']}/translations/ar"
    first = await events_api.put(url, json=ARABIC | {"translated_on": "2025-05-01"})
    assert first.status_code == 201, first.text
    assert first.json()["languages"] == ["ar", "en", "fr"]
    again = await events_api.put(
        url, json=ARABIC | {"title": "تدقيق CPTED"}, headers={"If-Match": first.headers["etag"]}
    )
    assert again.status_code == 200
    stale = await events_api.put(url, json=ARABIC, headers={"If-Match": first.headers["etag"]})
    assert stale.status_code == 412
    bad = await events_api.put(f"/v1/materials/{brochure['id']}/translations/klingon-xx", json=ARABIC)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "path.lang"


@pytest.mark.parametrize(
    ("params", "headers", "language"),
    [
        ({}, {"Accept-Language": "fr-CA,fr;q=0.9"}, "fr"),
        ({}, {"Accept-Language": "de, fr;q=0.5, en;q=0.4"}, "fr"),
        ({}, {"Accept-Language": "de, es;q=0.5"}, "en"),
        ({}, {"Accept-Language": "fr;q=0, *;q=0.5"}, "en"),
        ({}, {}, "en"),
        ({"lang": "fr-CA"}, {"Accept-Language": "en"}, "fr"),
        ({"lang": "FR"}, {}, "fr"),
    ],
)
async def test_content_negotiates_the_language(
    events_api: httpx.AsyncClient,
    brochure: dict[str, Any],
    params: dict[str, str],
    headers: dict[str, str],
    language: str,
) -> None:
    r = await events_api.get(f"/v1/materials/{brochure['id']}/content", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == language
    assert r.headers["vary"] == "Accept, Accept-Language"
    assert r.json()["language"] == language
    assert r.json()["title"] == brochure["translations"][language]["title"]


async def test_a_missing_translation_reports_the_languages_there_are(
    events_api: httpx.AsyncClient, brochure: dict[str, Any]
) -> None:
    r = await events_api.get(f"/v1/materials/{brochure['id']}/content", params={"lang": "de"})
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert r.json()["available_languages"] == ["en", "fr"]
    bad = await events_api.get(f"/v1/materials/{brochure['id']}/content", params={"lang": "not a tag"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.lang"


async def test_the_printable_page_is_in_the_language_and_direction_asked(
    events_api: httpx.AsyncClient, brochure: dict[str, Any]
) -> None:
    await events_api.put(f"/v1/materials/{brochure['id']}/translations/ar", json=ARABIC)
    r = await events_api.get(f"/v1/materials/{brochure['id']}/print.html", params={"lang": "ar"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="ar" dir="rtl">' in r.text and ARABIC["body"] in r.text
    assert r.headers["content-language"] == "ar"
    fr = await events_api.get(f"/v1/materials/{brochure['id']}/print.html", headers={"Accept-Language": "fr-CA"})
    assert '<html lang="fr" dir="ltr">' in fr.text and "&#x27;" in fr.text  # escaped apostrophe of Qu'est-ce


STIGMATIZING = "Help for an addict and their family. Addiction services are open; substance abuse is treatable."


async def test_saving_reports_stigmatizing_terms_and_strict_refuses_them(
    events_api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    body = material(translations={"en": {"title": "Getting help", "body": STIGMATIZING}})
    before = await _material_rows(engine)
    strict = await events_api.post("/v1/materials", params={"strict": "true"}, json=body)
    assert strict.status_code == 422 and strict.json()["type"].endswith("/stigmatizing-language")
    assert await _material_rows(engine) == before
    saved = await events_api.post("/v1/materials", json=body)
    assert saved.status_code == 201
    findings = saved.json()["language_findings"]
    assert [(f["field"], f["text"], f["start"]) for f in findings] == [
        ("translations.en.body", "addict", STIGMATIZING.index("addict")),
        ("translations.en.body", "substance abuse", STIGMATIZING.index("substance abuse")),
    ]
    assert "person who uses drugs" in findings[0]["suggestions"]
    assert findings[0]["source"]["publisher"].startswith("Canadian Centre on Substance Use")


async def test_the_language_check_endpoint_checks_any_text(events_api: httpx.AsyncClient) -> None:
    r = await events_api.post(
        "/v1/language-check", json={"text": "Les toxicomanes et l'abus de drogues.", "lang": "fr-CA"}
    )
    assert r.status_code == 200, r.text
    assert [f["text"] for f in r.json()["findings"]] == ["toxicomanes", "abus de drogues"]
    assert r.json()["checked"] is True
    other = await events_api.post("/v1/language-check", json={"text": "نص", "lang": "ar"})
    assert other.json() | {} == other.json() and other.json()["checked"] is False
    bad = await events_api.post("/v1/language-check", json={"text": "x", "lang": "xx-yy-zz-12345678"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.lang"


async def test_materials_filter_by_language_and_topic(events_api: httpx.AsyncClient, brochure: dict[str, Any]) -> None:
    await events_api.post(
        "/v1/materials", json=material(topic="good_samaritan_act", translations={"en": {"title": "T", "body": "B"}})
    )
    assert len((await events_api.get("/v1/materials", params={"language": "fr"})).json()["items"]) == 1
    assert len((await events_api.get("/v1/materials", params={"topic": "good_samaritan_act"})).json()["items"]) == 1
    dup = await events_api.post("/v1/materials", json=material(slug=brochure["slug"]))
    assert dup.status_code == 409
