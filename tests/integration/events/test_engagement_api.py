"""Distributions and their coverage, trainings, community connections and the calendar feed, on real PostgreSQL."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from tests.integration.events.factories import distribution, event, material, stakeholder, training

PROBLEM = "application/problem+json"


@pytest.fixture
async def two_materials(events_api: httpx.AsyncClient) -> list[dict[str, Any]]:
    return [(await events_api.post("/v1/materials", json=material())).json() for _ in range(2)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"copies": -3}, "body.copies"),
        ({"copies": 0}, "body.copies"),
        ({"language": "ar"}, "body.language"),
        ({"language": "not-a-language-tag"}, "body.language"),
        ({"handed_to_at_risk": 200, "handed_to_charged": 100}, "body.handed_to_at_risk"),
        ({"handed_to_charged": -1}, "body.handed_to_charged"),
        ({"distributed_on": "2099-01-01"}, "body.distributed_on"),
        ({"material_id": "6c1f0d4b-2f1e-4a10-8a3c-9a553b8e4d55"}, "body.material_id"),
        ({"audience": "everyone"}, "body.audience"),
    ],
)
async def test_bad_distributions_are_refused(
    events_api: httpx.AsyncClient, two_materials: list[dict[str, Any]], change: dict[str, Any], field: str
) -> None:
    r = await events_api.post("/v1/distributions", json=distribution(two_materials[0]["id"]) | change)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in r.json()["errors"]]
    assert (await events_api.get("/v1/distributions")).json()["items"] == []


async def test_coverage_shows_which_materials_reached_each_agencys_frontline_staff(
    events_api: httpx.AsyncClient, two_materials: list[dict[str, Any]]
) -> None:
    first, second = two_materials
    for m in (first, second):
        r = await events_api.post("/v1/distributions", json=distribution(m["id"], handed_to_at_risk=40))
        assert r.status_code == 201, r.text
    await events_api.post("/v1/distributions", json=distribution(first["id"], agency="  lasalle police   service"))
    await events_api.post(
        "/v1/distributions", json=distribution(second["id"], agency="LaSalle Police Service", audience="recruits")
    )
    r = await events_api.get("/v1/distributions/coverage", params={"agency": "Ontario Provincial Police"})
    assert r.status_code == 200, r.text
    report = {row["agency"].casefold(): row for row in r.json()["agencies"]}
    assert set(report) == {"windsor police service", "lasalle police service", "ontario provincial police"}
    assert report["windsor police service"]["complete"] is True
    assert report["windsor police service"]["reached"][0]["copies"] == 250
    assert [m["material_id"] for m in report["lasalle police service"]["missing"]] == [second["id"]]
    assert len(report["ontario provincial police"]["missing"]) == 2
    assert r.json()["all_covered"] is False
    listed = await events_api.get("/v1/distributions", params={"agency": "LASALLE police service"})
    assert len(listed.json()["items"]) == 2


async def test_trainings_are_recorded_and_filtered(events_api: httpx.AsyncClient) -> None:
    assert (await events_api.post("/v1/trainings", json=training())).status_code == 201
    assert (await events_api.post("/v1/trainings", json=training(cohort="frontline", attendees=80))).status_code == 201
    for bad, field in (
        ({"attendees": -1}, "body.attendees"),
        ({"topic": "Bad Topic!"}, "body.topic"),
        ({"held_on": "2099-01-01"}, "body.held_on"),
    ):
        r = await events_api.post("/v1/trainings", json=training(**bad))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    items = (await events_api.get("/v1/trainings", params={"cohort": "recruits"})).json()["items"]
    assert [t["attendees"] for t in items] == [24]


async def test_stakeholders_are_scoped_to_the_editors_partnership(
    events_api: httpx.AsyncClient, editor: httpx.AsyncClient, world: dict[str, Any], audits_api: httpx.AsyncClient
) -> None:
    mine = world["partnership"]["id"]
    s = await editor.post("/v1/stakeholders", json=stakeholder(mine, name="Glengarry BIA", kind="bia"))
    assert s.status_code == 201, s.text
    dup = await editor.post("/v1/stakeholders", json=stakeholder(mine, name="glengarry bia"))
    assert dup.status_code == 409
    other_n = (
        await audits_api.post(
            "/v1/neighbourhoods",
            json={
                "name": "Elsewhere",
                "municipality": "Windsor",
                "boundary": {
                    "type": "Polygon",
                    "coordinates": [[[-82.9, 42.2], [-82.89, 42.2], [-82.89, 42.21], [-82.9, 42.21], [-82.9, 42.2]]],
                },
            },
        )
    ).json()
    theirs = (
        await audits_api.post(
            "/v1/partnerships",
            json={"name": "Other partnership", "police_service": "WPS", "neighbourhood_ids": [other_n["id"]]},
        )
    ).json()
    assert (await editor.post("/v1/stakeholders", json=stakeholder(theirs["id"]))).status_code == 403
    foreign = (await events_api.post("/v1/stakeholders", json=stakeholder(theirs["id"]))).json()
    assert (await editor.get(f"/v1/stakeholders/{foreign['id']}")).status_code == 404
    assert [x["id"] for x in (await editor.get("/v1/stakeholders")).json()["items"]] == [s.json()["id"]]
    r = await editor.patch(f"/v1/stakeholders/{s.json()['id']}", json={"status": "inactive"})
    assert r.status_code == 200 and r.json()["version"] == 2
    unknown = await events_api.post("/v1/stakeholders", json=stakeholder("6c1f0d4b-2f1e-4a10-8a3c-9a553b8e4d55"))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.partnership_id"
    future = await editor.post("/v1/stakeholders", json=stakeholder(mine, connected_on="2099-01-01"))
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "body.connected_on"


async def test_the_calendar_feed_parses_and_carries_cancellations(
    events_api: httpx.AsyncClient, world: dict[str, Any], admin_key: str
) -> None:
    p = world["partnership"]["id"]
    kept = (
        await events_api.post(
            "/v1/events",
            json=event(
                [p],
                starts_at="2030-05-01T18:00:00-04:00",
                ends_at="2030-05-01T20:00:00-04:00",
                status="scheduled",
                name="Safety Committee meeting",
            ),
        )
    ).json()
    dropped = (
        await events_api.post(
            "/v1/events", json=event([p], status="scheduled", ends_at=None, starts_at="2030-06-01T18:00:00-04:00")
        )
    ).json()
    await events_api.patch(f"/v1/events/{dropped['id']}", json={"status": "cancelled"})
    r = await events_api.get(f"/v1/partnerships/{p}/calendar.ics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(r.content)
    vevents = {str(e["uid"]).split("@")[0]: e for e in calendar.walk("VEVENT")}
    assert set(vevents) == {kept["id"], dropped["id"]}
    assert str(vevents[dropped["id"]]["status"]) == "CANCELLED"
    assert vevents[kept["id"]].decoded("dtstart").isoformat() == "2030-05-01T22:00:00+00:00"
    assert str(vevents[kept["id"]]["summary"]) == "Safety Committee meeting"
    assert str(calendar["x-wr-calname"]).startswith(world["partnership"]["name"])
    again = await events_api.get(f"/v1/partnerships/{p}/calendar.ics", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    basic = base64.b64encode(f"calendar:{admin_key}".encode()).decode()
    assert (
        await events_api.get(f"/v1/partnerships/{p}/calendar.ics", headers={"Authorization": f"Basic {basic}"})
    ).status_code == 200
    missing = await events_api.get("/v1/partnerships/6c1f0d4b-2f1e-4a10-8a3c-9a553b8e4d55/calendar.ics")
    assert missing.status_code == 404
