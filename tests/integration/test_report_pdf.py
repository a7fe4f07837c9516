"""The partnership report as PDF: the figures read back from its text equal the API's."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.report.page import OUTPUTS
from shared.contracts.vocabulary import RecommendationCategory, RecommendationStatus
from tests.integration.test_cli import _cpted
from tests.integration.test_reports import _totals, add_untreated_control, programme  # noqa: F401  (the fixture)

PDF = "application/pdf"


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _figures(text: str, label: str, columns: int) -> tuple[str, ...]:
    found = re.search(re.escape(label) + r"\s+" + r"\s+".join([r"([\d,]+)"] * columns), text)
    assert found, f"{label!r} with {columns} figure(s) not in the PDF"
    return found.groups()


async def _pdf(api: httpx.AsyncClient, partnership_id: str, period: str) -> httpx.Response:
    r = await api.get(f"/v1/reports/partnerships/{partnership_id}.pdf", params={"period": period})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == PDF and r.content.startswith(b"%PDF-")
    assert r.headers["content-disposition"] == f'inline; filename="partnership-report-{period}.pdf"'
    return r


async def test_the_pdf_reports_the_figures_of_the_totals(
    metrics_api: httpx.AsyncClient,
    programme: dict[str, Any],  # noqa: F811
) -> None:
    pid = programme["partnership_id"]
    text = _text((await _pdf(metrics_api, pid, "2025")).content)
    now = await _totals(metrics_api, pid, "2025-01-01", "2025-12-31")
    before = await _totals(metrics_api, pid, "2024-01-01", "2024-12-31")
    assert (now["audits"], now["recommendations"], now["special_events"]) == (1, 4, 1)
    for metric, label in OUTPUTS:
        assert _figures(text, label, 2) == (f"{now[metric]:,}", f"{before[metric]:,}"), metric
    for status in RecommendationStatus:
        label = status.value.replace("_", " ").capitalize()
        assert _figures(text, label, 1) == (str(now["recommendations_by_status"][status.value]),), status
    for category in RecommendationCategory:
        label = category.value.replace("_", " ").capitalize()
        assert _figures(text, label, 1) == (str(now["recommendations_by_category"][category.value]),), category


async def test_the_pdf_lists_the_evaluations_and_the_outstanding_recommendations(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    programme: dict[str, Any],  # noqa: F811
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    await add_untreated_control(audits_api, engine, redis)
    text = _text((await _pdf(metrics_api, programme["partnership_id"], "2025")).content)
    for audit_id in (programme["audit"]["id"], programme["b"]["id"]):
        e = (await metrics_api.get(f"/v1/evaluations/audits/{audit_id}")).json()
        assert f"{e['target']['before']} → {e['target']['after']}" in text
        assert f"{e['control']['before']} → {e['control']['after']}" in text
        low, high = e["primary"]["ci95"]
        assert f"{e['primary']['estimate']} [{low}, {high}]" in text
    assert "Outstanding recommendations (3, 1 overdue)" in text and "OVERDUE" in text
    early = _text((await _pdf(metrics_api, programme["partnership_id"], "2024-Q1")).content)
    assert "no before/after comparison yet" in " ".join(early.split())


async def test_accept_pdf_gives_the_same_pdf_and_the_same_data_the_same_bytes(
    metrics_api: httpx.AsyncClient,
    programme: dict[str, Any],  # noqa: F811
) -> None:
    url = f"/v1/reports/partnerships/{programme['partnership_id']}"
    by_route = await _pdf(metrics_api, programme["partnership_id"], "2025")
    by_accept = await metrics_api.get(url, params={"period": "2025"}, headers={"Accept": PDF})
    assert by_accept.status_code == 200 and by_accept.headers["content-type"] == PDF
    assert by_accept.headers["vary"] == "Accept"
    assert by_accept.content == by_route.content
    reader = PdfReader(io.BytesIO(by_route.content))
    assert reader.metadata is not None and reader.metadata.title.endswith("CPTED partnership report 2025")
    browser = await metrics_api.get(url, params={"period": "2025"}, headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.headers["content-type"] == "text/html; charset=utf-8" and browser.headers["vary"] == "Accept"
    refused = await metrics_api.get(url, params={"period": "2025"}, headers={"Accept": "text/csv"})
    assert refused.status_code == 406 and refused.headers["content-type"] == "application/problem+json"


async def test_the_pdf_gives_the_same_errors_as_the_page(
    metrics_api: httpx.AsyncClient,
    programme: dict[str, Any],  # noqa: F811
) -> None:
    unknown = await metrics_api.get("/v1/reports/partnerships/6d9a3a2e-1111-4c1c-9d7a-000000000000.pdf")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    bad = await metrics_api.get(f"/v1/reports/partnerships/{programme['partnership_id']}.pdf", params={"period": "25"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.period"


async def test_the_openapi_document_declares_the_pdf_answers(metrics_api: httpx.AsyncClient) -> None:
    paths = (await metrics_api.get("/openapi.json")).json()["paths"]
    binary = {"schema": {"type": "string", "format": "binary"}}
    route = paths["/v1/reports/partnerships/{partnership_id}.pdf"]["get"]["responses"]["200"]["content"]
    assert route == {PDF: binary}
    page = paths["/v1/reports/partnerships/{partnership_id}"]["get"]["responses"]
    assert page["200"]["content"][PDF] == binary and "text/html" in page["200"]["content"]


async def test_the_command_line_writes_the_same_pdf(
    metrics_api: httpx.AsyncClient,
    programme: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    pid = programme["partnership_id"]
    target = tmp_path / "report.pdf"
    status, out, err = await _cpted("report", "--partnership", pid, "--period", "2025", "--out", str(target))
    assert status == 0 and out == "" and "wrote the 2025 report" in err, err
    assert target.read_bytes() == (await _pdf(metrics_api, pid, "2025")).content
    status, out, _ = await _cpted("report", "--partnership", pid, "--period", "2025", "--format", "html")
    assert status == 0 and out.startswith("<!doctype html>")
