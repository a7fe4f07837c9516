"""Open311 GeoReport v2 rules: query windows, statuses, the form of a POST, how records read as requests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.audits.open311.domain.georeport import (
    Open311Error,
    Site,
    audit_request_request,
    check_jurisdiction,
    definition,
    recommendation_request,
    request_query,
    services,
)
from services.audits.open311.domain.submission import parse_submission
from shared.contracts.vocabulary import RecommendationCategory

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
ZONE = "America/Toronto"


def test_without_dates_the_window_is_the_last_90_days() -> None:
    q = request_query({}, NOW)
    assert (q.start, q.end, q.open, q.closed) == (NOW - timedelta(days=90), NOW, True, True)
    start_only = request_query({"start_date": "2026-01-01T00:00:00Z"}, NOW)
    assert start_only.end == datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=90)


def test_ids_override_every_other_filter() -> None:
    rid = uuid.uuid4()
    q = request_query({"service_request_id": f"{rid}, 638344", "status": "nonsense"}, NOW)
    assert q.ids == [rid] and q.start is None and q.service_codes is None


def test_status_and_service_code_lists() -> None:
    q = request_query({"status": "closed", "service_code": "lighting,cpted_audit_request"}, NOW)
    assert (q.open, q.closed, q.service_codes) == (False, True, frozenset({"lighting", "cpted_audit_request"}))


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"},
        {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
        {"start_date": "2026-01-01"},
        {"status": "pending"},
    ],
)
def test_bad_queries_are_400(params: dict[str, str]) -> None:
    with pytest.raises(Open311Error) as error:
        request_query(params, NOW)
    assert error.value.body() == [{"code": 400, "description": error.value.description}]


def test_one_jurisdiction() -> None:
    check_jurisdiction(None, "cpted.example.org")
    check_jurisdiction("cpted.example.org", "cpted.example.org")
    with pytest.raises(Open311Error) as error:
        check_jurisdiction("toronto.ca", "cpted.example.org")
    assert error.value.status == 404


def test_services_and_definitions() -> None:
    listed = services([RecommendationCategory.lighting])
    assert [s["service_code"] for s in listed] == ["lighting", "cpted_audit_request"]
    assert definition("lighting", [RecommendationCategory.lighting]) == {"service_code": "lighting", "attributes": []}
    with pytest.raises(Open311Error):
        definition("surveillance", [RecommendationCategory.lighting])


def test_a_recommendation_reads_as_a_request() -> None:
    rec = SimpleNamespace(
        id=uuid.uuid4(), category="lighting", status="deferred", description="LED lights", responsible_party="Works",
        priority="high", created_at=NOW, updated_at=NOW, expected_on=date(2026, 12, 1),
    )  # fmt: skip
    audit = SimpleNamespace(site_name="Alley", conducted_on=date(2026, 3, 1))
    request = recommendation_request(rec, audit, Site("Alley, Glengarry", (-83.0, 42.3)), "waiting for budget", ZONE)
    assert (request["status"], request["status_notes"], request["agency_responsible"]) == (
        "open",
        "waiting for budget",
        "Works",
    )
    assert (request["lat"], request["long"], request["address"]) == (42.3, -83.0, "Alley, Glengarry")
    assert request["expected_datetime"] == "2026-12-01T00:00:00-05:00"
    assert request["requested_datetime"] == "2026-11-25T07:00:00-05:00"
    done = recommendation_request(SimpleNamespace(**{**vars(rec), "status": "declined"}), audit, Site(), None, ZONE)
    assert (done["status"], done["lat"]) == ("closed", None)


def test_an_audit_request_reads_as_a_request() -> None:
    row = SimpleNamespace(
        id=uuid.uuid4(), status="rejected", reason="Private lot", description="Dark", received_at=NOW,
        updated_at=NOW, media_url=None,
    )  # fmt: skip
    request = audit_request_request(row, None, Site("Alley"), "Coordinators", ZONE)
    assert (request["service_code"], request["status"], request["status_notes"]) == (
        "cpted_audit_request",
        "closed",
        "Private lot",
    )
    assert request["expected_datetime"] is None


def form(**fields: str) -> dict[str, list[str]]:
    base = {"service_code": "cpted_audit_request", "lat": "42.3", "long": "-83.0", "description": "Dark alley"}
    return {k: [v] for k, v in (base | fields).items()}


def test_a_post_becomes_a_submission() -> None:
    given = parse_submission(form(first_name="Dana", last_name="R", phone="519", **{"attribute[concern]": "lighting"}))
    assert given.location == {"type": "Point", "coordinates": [-83.0, 42.3]}
    assert (given.place, given.attributes) == ("42.30000, -83.00000", {"concern": "lighting"})
    assert given.requester == {"name": "Dana R", "phone": "519"}
    named = parse_submission(form(address_string="600 Glengarry Ave", **{"attribute[place]": "The alley"}))
    assert (named.place, named.requester) == ("The alley", {})


def test_an_address_alone_is_a_location_too() -> None:
    given = parse_submission(form(lat="", long="", address_string="600 Glengarry Ave"))
    assert (given.location, given.place) == (None, "600 Glengarry Ave")


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"service_code": ""}, 400),
        ({"service_code": "potholes"}, 404),
        ({"service_code": "lighting"}, 400),
        ({"lat": "", "long": "", "address_id": "545483"}, 400),
        ({"long": "east"}, 400),
        ({"media_url": "ftp://x"}, 400),
        ({"attribute[concern][]": "ghosts"}, 400),
    ],
)
def test_a_bad_post_says_why(fields: dict[str, str], status: int) -> None:
    with pytest.raises(Open311Error) as error:
        parse_submission(form(**fields))
    assert error.value.status == status
