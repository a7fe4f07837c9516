"""Outreach material as PDF: the demo's CPTED brochure in English, French and Arabic, read back with pypdf."""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import datetime
from typing import Any

import httpx
import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from cpted.demo.outreach import CPTED, GOOD_SAMARITAN, Text
from tests.integration.events.factories import material

PDF = "application/pdf"
PROBLEM = "application/problem+json"
TEXTS: dict[str, Text] = CPTED.texts | CPTED.later
LEFT_MARGIN_PT = 18 / 25.4 * 72


def _body(outreach: Any, **overrides: Any) -> dict[str, Any]:
    texts = outreach.texts | outreach.later
    translations = {lang: {"title": t.title, "body": t.body} for lang, t in texts.items()}
    return material(
        kind=outreach.kind, topic=outreach.topic, source_language="en", translations=translations, **overrides
    )


@pytest.fixture
async def cpted_brochure(events_api: httpx.AsyncClient) -> dict[str, Any]:
    r = await events_api.post("/v1/materials", json=_body(CPTED))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _text(pdf: bytes) -> str:
    """What a reader copies out of the PDF, with Arabic presentation forms folded back to letters."""
    reader = PdfReader(io.BytesIO(pdf))
    return unicodedata.normalize("NFKC", "\n".join(page.extract_text() for page in reader.pages))


def _words(text: str) -> set[str]:
    """Words, split where Arabic meets Latin too: a copied mixed line has no space between the two runs."""
    return set(re.findall(r"[\u0600-\u06ff]+|[^\W\u0600-\u06ff]+", unicodedata.normalize("NFKC", text)))


def _line_starts(pdf: bytes) -> list[float]:
    """The x (points) where each run of text begins on the first page, the footer left out."""
    starts: list[float] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip() and tm[5] > 72:
            starts.append(round(tm[4], 1))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return starts


@pytest.mark.parametrize("language", ["en", "fr", "ar"])
async def test_the_cpted_brochure_prints_as_a_pdf_in_each_language(
    events_api: httpx.AsyncClient, cpted_brochure: dict[str, Any], language: str
) -> None:
    url = f"/v1/materials/{cpted_brochure['id']}/content.pdf"
    r = await events_api.get(url, params={"lang": language})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == PDF and r.content.startswith(b"%PDF-")
    assert r.headers["content-language"] == language
    assert r.headers["vary"] == "Accept-Language"
    assert r.headers["etag"] == f'"{cpted_brochure["version"]}-{language}-pdf"'
    assert r.headers["content-disposition"] == f'inline; filename="{cpted_brochure["slug"]}-{language}.pdf"'
    shown = _words(_text(r.content))
    expected = _words(TEXTS[language].title) | _words(TEXTS[language].body)
    assert expected - shown == set()
    reader = PdfReader(io.BytesIO(r.content))
    assert reader.metadata is not None and reader.metadata.title == TEXTS[language].title
    made = datetime.fromisoformat(cpted_brochure["updated_at"])
    assert reader.metadata.creation_date == made.replace(microsecond=0)
    again = await events_api.get(url, params={"lang": language})
    assert again.content == r.content


async def test_french_accents_and_arabic_letters_come_back_as_written(
    events_api: httpx.AsyncClient, cpted_brochure: dict[str, Any]
) -> None:
    url = f"/v1/materials/{cpted_brochure['id']}/content.pdf"
    fr = _text((await events_api.get(url, params={"lang": "fr"})).content)
    for word in ("évaluations", "sécurité", "résidents", "l'aménagement", "préoccupe", "Ensemble"):
        assert word in fr
    ar = _text((await events_api.get(url, params={"lang": "ar"})).content)
    for word in ("تدقيق", "السلامة", "الجريمة", "السكان", "الشرطة", "وندسور"):
        assert word in ar


def _glyphs(pdf: bytes) -> set[str]:
    """The names of the glyphs embedded for the page's regular text."""
    font = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]["/F1"].get_object()
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    return set(TTFont(io.BytesIO(descriptor["/FontFile2"].get_object().get_data())).getGlyphOrder())


async def test_arabic_letters_are_joined(events_api: httpx.AsyncClient, cpted_brochure: dict[str, Any]) -> None:
    """Shaped text draws each letter in its initial, medial or final form, and lam-alef as one ligature."""
    pdf = (await events_api.get(f"/v1/materials/{cpted_brochure['id']}/content.pdf", params={"lang": "ar"})).content
    lam = {"uniFEDF", "uniFEE0", "uniFEDE"}  # initial, medial, final
    lam_alef = {"uniFEF7", "uniFEFC"}  # with hamza above (الأماكن), final (للأزقة)
    assert lam | lam_alef <= _glyphs(pdf)


async def test_arabic_lines_run_from_the_right_margin_and_latin_ones_from_the_left(
    events_api: httpx.AsyncClient, cpted_brochure: dict[str, Any]
) -> None:
    url = f"/v1/materials/{cpted_brochure['id']}/content.pdf"
    fr = _line_starts((await events_api.get(url, params={"lang": "fr"})).content)
    ar = _line_starts((await events_api.get(url, params={"lang": "ar"})).content)
    assert len(set(fr)) == 1 and LEFT_MARGIN_PT <= fr[0] < LEFT_MARGIN_PT + 5  # every line at the left margin
    assert ar and max(ar) > 612 / 2  # the short last line of a paragraph ends at the right margin


async def test_accept_pdf_on_the_content_route_gives_the_pdf(
    events_api: httpx.AsyncClient, cpted_brochure: dict[str, Any]
) -> None:
    url = f"/v1/materials/{cpted_brochure['id']}/content"
    pdf = await events_api.get(url, headers={"Accept": PDF, "Accept-Language": "ar, fr;q=0.5"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == PDF
    assert pdf.headers["content-language"] == "ar" and pdf.headers["vary"] == "Accept, Accept-Language"
    assert "تدقيق" in _text(pdf.content)
    same = await events_api.get(f"{url}.pdf", params={"lang": "ar"})
    assert same.content == pdf.content and same.headers["etag"] == pdf.headers["etag"]
    json = await events_api.get(url, headers={"Accept": "application/json", "Accept-Language": "ar"})
    assert json.headers["content-type"] == "application/json" and json.headers["vary"] == "Accept, Accept-Language"
    assert json.headers["etag"] != pdf.headers["etag"]
    browser = await events_api.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.headers["content-type"] == "application/json"
    preferred = await events_api.get(url, headers={"Accept": "application/json;q=0.5, application/pdf"})
    assert preferred.headers["content-type"] == PDF
    unchanged = await events_api.get(
        url, headers={"Accept": PDF, "Accept-Language": "ar", "If-None-Match": pdf.headers["etag"]}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""
    refused = await events_api.get(url, headers={"Accept": "text/csv"})
    assert refused.status_code == 406 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["available_media_types"] == ["application/json", PDF]


async def test_a_language_the_material_lacks_gets_the_same_answer_as_the_json_content(
    events_api: httpx.AsyncClient, cpted_brochure: dict[str, Any]
) -> None:
    base = f"/v1/materials/{cpted_brochure['id']}"
    for url, headers in ((f"{base}/content.pdf", {}), (f"{base}/content", {"Accept": PDF})):
        missing = await events_api.get(url, params={"lang": "de"}, headers=headers)
        assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
        assert missing.json()["available_languages"] == ["ar", "en", "fr"]
        bad = await events_api.get(url, params={"lang": "not a tag"}, headers=headers)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.lang"
    unknown = await events_api.get("/v1/materials/6d9a3a2e-1111-4c1c-9d7a-000000000000/content.pdf")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM


async def test_a_new_version_prints_a_new_pdf(events_api: httpx.AsyncClient) -> None:
    created = (await events_api.post("/v1/materials", json=_body(GOOD_SAMARITAN))).json()
    url = f"/v1/materials/{created['id']}/content.pdf"
    first = await events_api.get(url, params={"lang": "fr"})
    assert "bons samaritains" in _text(first.content)
    changed = await events_api.put(
        f"/v1/materials/{created['id']}/translations/fr",
        json={"title": "Loi du bon samaritain", "body": "Appelez le 911."},
    )
    assert changed.status_code == 200, changed.text
    second = await events_api.get(url, params={"lang": "fr"})
    assert second.headers["etag"] == f'"{created["version"] + 1}-fr-pdf"' != first.headers["etag"]
    assert "Appelez le 911." in _text(second.content)


async def test_the_openapi_document_declares_the_pdf_answers(events_api: httpx.AsyncClient) -> None:
    paths = (await events_api.get("/openapi.json")).json()["paths"]
    binary = {"schema": {"type": "string", "format": "binary"}}
    assert paths["/v1/materials/{material_id}/content.pdf"]["get"]["responses"]["200"]["content"] == {PDF: binary}
    content = paths["/v1/materials/{material_id}/content"]["get"]["responses"]
    assert content["200"]["content"][PDF] == binary and "application/json" in content["200"]["content"]
    assert content["406"]["content"]["application/problem+json"]
