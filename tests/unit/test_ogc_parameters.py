"""The rules of OGC API - Features parameters: limit, bbox, datetime, unknown parameters, Accept."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.audits.ogc.domain.standard import (
    BBox,
    Interval,
    OgcError,
    acceptable,
    check_params,
    local_days,
    parse_bbox,
    parse_datetime,
    parse_limit,
)

ZONE = "America/Toronto"


def test_limit_defaults_and_is_capped_not_refused() -> None:
    assert parse_limit(None, 100, 1000) == 100
    assert parse_limit("5", 100, 1000) == 5
    assert parse_limit("50000", 100, 1000) == 1000
    for bad in ("0", "-1", "ten", "1.5"):
        with pytest.raises(OgcError) as error:
            parse_limit(bad, 100, 1000)
        assert (error.value.status, error.value.code) == (400, "InvalidParameterValue")


def test_bbox_takes_four_or_six_numbers() -> None:
    assert parse_bbox("-83.1,42.2,-82.9,42.4") == BBox(-83.1, 42.2, -82.9, 42.4)
    assert parse_bbox("-83.1,42.2,0,-82.9,42.4,100") == BBox(-83.1, 42.2, -82.9, 42.4)
    assert parse_bbox(None) is None
    for bad in ("1,2,3", "1,2,3,4,5", "a,b,c,d", "-181,0,0,1", "0,10,1,5"):
        with pytest.raises(OgcError):
            parse_bbox(bad)


def test_a_box_across_the_antimeridian_wraps() -> None:
    box = parse_bbox("170,-10,-170,10")
    assert box is not None and box.crosses_antimeridian
    assert box.contains(175, 0) and box.contains(-175, 0) and not box.contains(0, 0)


def test_datetime_instants_intervals_and_open_ends() -> None:
    t = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert parse_datetime("2026-03-01T12:00:00Z", ZONE) == Interval(t, t)
    assert parse_datetime("2026-03-01T12:00:00Z/..", ZONE) == Interval(t, None)
    assert parse_datetime("/2026-03-01T12:00:00Z", ZONE) == Interval(None, t)
    assert parse_datetime(None, ZONE) is None


def test_a_date_is_the_whole_local_day() -> None:
    day = parse_datetime("2026-03-01", ZONE)
    assert day is not None and day.start is not None and day.end is not None
    assert day.start.isoformat() == "2026-03-01T00:00:00-05:00"
    assert day.end.isoformat() == "2026-03-01T23:59:59.999999-05:00"
    assert local_days(day, ZONE) == (date(2026, 3, 1), date(2026, 3, 1))


@pytest.mark.parametrize(
    "bad",
    [
        "yesterday", "2026-03-01T12:00:00", "../..", "/", "a/b/c", "2026-03-02T00:00:00Z/2026-03-01T00:00:00Z",
        "0001-01-01T00:00:00Z/..", "9999-12-31", "../9999-12-31T23:59:59Z",
    ],
)  # fmt: skip
def test_bad_datetimes_are_refused(bad: str) -> None:
    with pytest.raises(OgcError):
        parse_datetime(bad, ZONE)


def test_an_instant_in_utc_is_a_local_day() -> None:
    late = parse_datetime("2026-03-02T03:00:00Z", ZONE)  # 22:00 on 1 March in Toronto
    assert late is not None and local_days(late, ZONE) == (date(2026, 3, 1), date(2026, 3, 1))
    assert local_days(Interval(None, None), ZONE) == (None, None)


def test_unknown_parameters_are_refused() -> None:
    check_params(["limit", "bbox"], {"limit", "bbox", "datetime"})
    with pytest.raises(OgcError, match="colour"):
        check_params(["limit", "colour"], {"limit"})


@pytest.mark.parametrize(
    ("accept", "ok"),
    [
        (None, True),
        ("application/geo+json", True),
        ("application/json;q=0.9, */*;q=0.1", True),
        ("application/*", True),
        ("text/html", False),
        ("application/geo+json;q=0, text/html", False),
    ],
)
def test_accept_is_honoured(accept: str | None, ok: bool) -> None:
    assert acceptable(accept, ["application/geo+json", "application/json"]) is ok
