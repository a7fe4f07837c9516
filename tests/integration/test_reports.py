"""The partnership report on real services: its figures read back from the HTML equal the API's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.report.page import OUTPUTS
from shared.auth.keys import Scope
from tests import factories
from tests.integration import crime_world
from tests.integration.conftest import client_for, new_key
from tests.integration.events import factories as event_factories
from tests.integration.events.conftest import events_client
from tests.integration.test_bus import _consume_all, _consumer, _relay_all


class Figures(HTMLParser):
    """What the report's markup says: table cells, chart bars and list rows by their data- attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.bars: dict[tuple[str, str], int] = {}
        self.evaluations: dict[str, dict[str, str]] = {}
        self.outstanding: list[tuple[str, bool]] = []
        self.text: list[str] = []
        self._row: dict[str, str] = {}
        self._figure = ""
        self._capture: tuple[str, ...] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "figure":
            self._figure = a.get("id", "")
        elif tag == "tr":
            self._row = a
            if "data-recommendation" in a:
                self.outstanding.append((a["data-recommendation"], False))
        elif tag == "g" and a.get("class") == "bar":
            self.bars[(self._figure, a["data-key"])] = int(a["data-value"].replace(",", ""))
        elif tag == "td" and "data-period" in a:
            self._capture = ("cell", self._row["data-metric"], a["data-period"])
        elif tag == "td" and "data-area" in a:
            self._capture = ("area", self._row["data-audit"], a["data-area"])
        elif tag == "span" and a.get("class") == "late" and self.outstanding:
            self.outstanding[-1] = (self.outstanding[-1][0], True)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._capture = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._capture and self._capture[0] == "cell":
            self.cells[self._capture[1:]] = data.strip()  # type: ignore[index]
        elif self._capture:
            self.evaluations.setdefault(self._capture[1], {})[self._capture[2]] = data.strip()


async def _post(api: httpx.AsyncClient, path: str, body: Any) -> dict[str, Any]:
    r = await api.post(path, json=body)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def _recommendation(
    api: httpx.AsyncClient, audit_id: str, steps: tuple[tuple[str, str], ...], **body: Any
) -> str:
    rec = await _post(api, f"/v1/audits/{audit_id}/recommendations", factories.recommendation(**body))
    for to, on in steps:
        await _post(api, f"/v1/recommendations/{rec['id']}/transitions", {"to": to, "on": on})
    return str(rec["id"])


async def _events(admin_key: str, partnership_id: str) -> None:
    async for events in events_client(admin_key):
        for starts, special, status in (
            ("2025-07-12T11:00:00-04:00", True, "held"),
            ("2025-08-02T11:00:00-04:00", False, "held"),
            ("2025-09-06T11:00:00-04:00", True, "cancelled"),
            ("2024-07-13T11:00:00-04:00", True, "held"),
        ):
            ends = starts.replace("T11", "T17")
            body = event_factories.event(
                [partnership_id], starts_at=starts, ends_at=ends, special=special, status=status
            )
            await _post(events, "/v1/events", body)


@pytest.fixture
async def programme(
    audits_api: httpx.AsyncClient, metrics_api: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, admin_key: str
) -> dict[str, Any]:
    """The crime world's partnership: audit A (2025) implemented 2025-03-01, audit B (2024), events, incidents."""
    world = await crime_world.build(audits_api, engine, redis)
    a, partnership = world["audit"], world["audit"]["partnership_id"]
    b = await _post(
        audits_api, "/v1/audits", factories.audit(partnership, world["control"]["id"], conducted_on="2024-06-01")
    )
    overdue = await _recommendation(audits_api, b["id"], (), expected_on="2024-09-01", category="signage")
    lit = (("accepted", "2024-06-10"), ("in_progress", "2024-07-01"), ("implemented", "2024-08-01"))
    await _recommendation(audits_api, b["id"], lit)
    later = await _recommendation(audits_api, a["id"], (("accepted", "2025-04-01"),), expected_on="2027-01-01")
    paused = await _recommendation(audits_api, a["id"], (("deferred", "2025-04-02"),), category="landscaping")
    await _recommendation(audits_api, a["id"], (("declined", "2025-04-03"),), category="traffic_calming")
    await _events(admin_key, partnership)
    r = await metrics_api.post("/v1/crime-incidents", json=crime_world.planned_incidents())
    assert r.status_code == 201, r.text
    await _relay_all(redis, "audits")
    await _relay_all(redis, "events")
    await _consume_all(_consumer(engine, redis))
    return world | {"b": b, "partnership_id": partnership, "outstanding": [overdue, later, paused]}


async def add_untreated_control(audits_api: httpx.AsyncClient, engine: AsyncEngine, redis: Redis) -> None:
    """A Windsor neighbourhood no audit touched, so the programme's audits have a default control."""
    await _post(audits_api, "/v1/neighbourhoods", factories.neighbourhood(boundary=factories.square(-83.0, 42.25)))
    await _relay_all(redis, "audits")
    await _consume_all(_consumer(engine, redis))


async def _report(metrics_api: httpx.AsyncClient, partnership_id: str, period: str) -> Figures:
    r = await metrics_api.get(f"/v1/reports/partnerships/{partnership_id}", params={"period": period})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "style-src 'unsafe-inline'" in r.headers["content-security-policy"]
    assert "<script" not in r.text and "http://" not in r.text.replace("http://www.w3.org/2000/svg", "")
    return Figures(r.text)


async def _totals(metrics_api: httpx.AsyncClient, partnership_id: str, first: str, last: str) -> dict[str, Any]:
    r = await metrics_api.get("/v1/totals", params={"partnership_id": partnership_id, "from": first, "to": last})
    return dict(r.json())


async def test_the_reports_figures_equal_the_totals(metrics_api: httpx.AsyncClient, programme: dict[str, Any]) -> None:
    pid = programme["partnership_id"]
    figures = await _report(metrics_api, pid, "2025")
    now = await _totals(metrics_api, pid, "2025-01-01", "2025-12-31")
    before = await _totals(metrics_api, pid, "2024-01-01", "2024-12-31")
    for metric, _ in OUTPUTS:
        assert figures.cells[(metric, "current")] == f"{now[metric]:,}", metric
        assert figures.cells[(metric, "previous")] == f"{before[metric]:,}", metric
    assert (now["audits"], now["recommendations"], now["recommendations_implemented"], now["special_events"]) == (
        1, 4, 1, 1,
    )  # fmt: skip
    assert (before["audits"], before["recommendations_implemented"], before["special_events"]) == (1, 1, 1)
    for status, n in now["recommendations_by_status"].items():
        assert figures.bars[("by-status", status)] == n
    for category, n in now["recommendations_by_category"].items():
        assert figures.bars[("by-category", category)] == n


async def test_before_after_results_are_the_evaluations(
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    programme: dict[str, Any],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    # Each audit's neighbourhood was treated inside the other's windows: Windsor has no untreated control left.
    alone = await _report(metrics_api, programme["partnership_id"], "2025")
    assert alone.evaluations == {} and "no control area" in "".join(alone.text)
    await add_untreated_control(audits_api, engine, redis)
    figures = await _report(metrics_api, programme["partnership_id"], "2025")
    assert set(figures.evaluations) == {programme["audit"]["id"], programme["b"]["id"]}
    for audit_id, shown in figures.evaluations.items():
        e = (await metrics_api.get(f"/v1/evaluations/audits/{audit_id}")).json()
        assert shown["target"] == f"{e['target']['before']} → {e['target']['after']}"
        assert shown["control"] == f"{e['control']['before']} → {e['control']['after']}"
        low, high = e["primary"]["ci95"]
        assert shown["primary"] == f"{e['primary']['estimate']} [{low}, {high}]"
        assert shown["complete"] == (
            "complete" if e["complete"] else f"after window running: {e['after_days_observed']} of 365 days"
        )
    assert "Primary outcome: the odds ratio" in "".join(figures.text)
    early = await _report(metrics_api, programme["partnership_id"], "2024-Q1")
    assert early.evaluations == {} and "no before/after comparison yet" in "".join(early.text)


async def test_outstanding_recommendations_soonest_first_with_the_overdue_marked(
    metrics_api: httpx.AsyncClient, programme: dict[str, Any]
) -> None:
    figures = await _report(metrics_api, programme["partnership_id"], "2025")
    overdue, later, paused = programme["outstanding"]
    assert figures.outstanding == [(overdue, True), (later, False), (paused, False)]


@pytest.fixture
async def outsider(engine: AsyncEngine, metrics_api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    from services.metrics.app import create_app

    key = await new_key(engine, Scope.editor, ["00000000-0000-4000-8000-000000000001"])
    async for client in client_for(create_app(), key):
        yield client


async def test_unknown_or_invisible_partnerships_and_bad_periods_get_clear_answers(
    metrics_api: httpx.AsyncClient, outsider: httpx.AsyncClient, programme: dict[str, Any]
) -> None:
    unknown = await metrics_api.get("/v1/reports/partnerships/6d9a3a2e-1111-4c1c-9d7a-000000000000")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert "partnership 6d9a3a2e-1111-4c1c-9d7a-000000000000 not found" in unknown.json()["detail"]
    hidden = await outsider.get(f"/v1/reports/partnerships/{programme['partnership_id']}", params={"period": "2025"})
    assert hidden.status_code == 404
    bad = await metrics_api.get(f"/v1/reports/partnerships/{programme['partnership_id']}", params={"period": "25"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.period"
