"""CSV columns mapped by name, and every bad row reported with its line number and reason."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.metrics.crime.domain.batches import batch_parser
from services.metrics.crime.domain.csv_reader import CsvReader
from services.metrics.crime.domain.incidents import (
    HeaderError,
    RowError,
    column_overrides,
    map_columns,
    normalize_category,
    row_parser,
)
from services.metrics.crime.store.incidents import id_base

TORONTO = "America/Toronto"
HEADER = "Incident Number,Offence,Occurred,X,Y\n"
ISO = "2025-03-01 21:15 or 2025-03-01T21:15:00-05:00"


def _read(text: str | bytes, batch_bytes: int = 1 << 20, **kw: object) -> list:  # type: ignore[type-arg]
    reader = CsvReader(TORONTO, batch_bytes=batch_bytes, default_source="wps", **kw)  # type: ignore[arg-type]
    data = text.encode() if isinstance(text, str) else text
    rows = []
    for i in range(0, len(data), 7):  # arriving in small pieces, as a network stream does
        rows += reader.feed(data[i : i + 7])
    return rows + reader.finish()


def test_columns_by_name_in_any_order_with_common_aliases() -> None:
    columns = map_columns(["\ufeffY", "X", "Occurred", "Offence", "Incident Number", "Notes"], {}, "wps")
    assert columns.index == {"latitude": 0, "longitude": 1, "occurred_at": 2, "category": 3, "external_id": 4}
    explicit = map_columns(["Ref", "When", "Offence"], column_overrides(["external_id=Ref", "occurred_at=When"]), "wps")
    assert explicit.index["occurred_at"] == 1 and explicit.index["category"] == 2


@pytest.mark.parametrize(
    ("header", "explicit", "source", "message"),
    [
        (["Incident Number", "X", "Y"], {}, "wps", "no column for category, occurred_at"),
        (["id", "offence", "date"], {}, None, "no column for source"),
        (["id", "offence", "date", "x"], {}, "wps", "only one of longitude and latitude"),
        (["id", "offence", "date"], {"occurred_at": "When"}, "wps", "'When' (for occurred_at) is not in the header"),
    ],
)
def test_header_problems_stop_the_file(
    header: list[str], explicit: dict[str, str], source: str | None, message: str
) -> None:
    with pytest.raises(HeaderError, match=re.escape(message)):
        map_columns(header, explicit, source)


def test_a_bad_column_override_is_named() -> None:
    with pytest.raises(ValueError, match="'when=Date'"):
        column_overrides(["when=Date"])


def test_categories_are_normalised() -> None:
    assert normalize_category("  Break and Enter ") == normalize_category("break-and-enter") == "break_and_enter"


def test_times_without_an_offset_are_local() -> None:
    parse = row_parser(map_columns(["id", "offence", "date", "x", "y"], {}, "wps"), TORONTO)
    winter = parse(["E1", "Theft", "2025-01-15 21:00", "-83", "42.3"], 2)
    summer = parse(["E2", "Theft", "2025-07-15T21:00:00", "-83", "42.3"], 3)
    given = parse(["E3", "Theft", "2025-07-15T21:00:00+00:00", "-83", "42.3"], 4)
    day = parse(["E4", "Theft", "2025-07-15", "-83", "42.3"], 5)
    assert not isinstance(winter, RowError) and winter[4] == datetime(2025, 1, 16, 2, tzinfo=UTC)
    assert not isinstance(summer, RowError) and summer[4] == datetime(2025, 7, 16, 1, tzinfo=UTC)
    assert not isinstance(given, RowError) and given[4].utcoffset() == UTC.utcoffset(None)
    assert not isinstance(day, RowError) and day[4] == datetime(2025, 7, 15, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (
            ["E1", "Theft", "2025-02-30 10:00", "-83", "42.3"],
            "occurred_at: cannot read '2025-02-30 10:00'; expected ISO 8601 such as " + ISO,
        ),
        (["E1", "Theft", "1899-12-31 10:00", "-83", "42.3"], "occurred_at is before 1900 or in the future"),
        (["", "Theft", "2025-02-01", "-83", "42.3"], "external_id is empty"),
        (["E1", " ", "2025-02-01", "-83", "42.3"], "category is empty"),
        (["E1", "Theft", "2025-02-01", "-183", "42.3"], "longitude -183 is outside -180..180"),
        (["E1", "Theft", "2025-02-01", "-83", "north"], "latitude: cannot read 'north'; expected decimal degrees"),
        (["E1", "Theft", "2025-02-01", "-83", "nan"], "latitude nan is outside -90..90"),
        (["E1", "Theft", "2025-02-01", "", ""], "needs longitude and latitude, or a neighbourhood_id"),
        (["E1", "Theft", "2025-02-01", "-83"], "has 4 columns; the header has 5 or more"),
        (["E" * 201, "Theft", "2025-02-01", "-83", "42.3"], "external_id is longer than 200 characters"),
    ],
)
def test_each_bad_row_says_why(cells: list[str], reason: str) -> None:
    parse = row_parser(map_columns(["id", "offence", "date", "x", "y"], {}, "wps"), TORONTO)
    assert parse(cells, 7) == RowError(7, reason)


def test_future_times_are_refused() -> None:
    parse = row_parser(map_columns(["id", "offence", "date", "x", "y"], {}, "wps"), TORONTO)
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert parse(["E1", "Theft", later, "-83", "42.3"], 2) == RowError(2, "occurred_at is before 1900 or in the future")


def test_a_neighbourhood_id_instead_of_a_point() -> None:
    nid = uuid.uuid4()
    parse = row_parser(map_columns(["id", "offence", "date", "neighbourhood_id"], {}, "wps"), TORONTO)
    row = parse(["E1", "Theft", "2025-02-01", str(nid)], 2)
    assert not isinstance(row, RowError) and (row[5], row[6], row[7]) == (None, None, nid)
    assert parse(["E1", "Theft", "2025-02-01", "n-1"], 3) == RowError(
        3, "neighbourhood_id: cannot read 'n-1'; expected a UUID"
    )


def test_line_numbers_survive_quoted_line_breaks_and_small_batches() -> None:
    text = (
        HEADER
        + 'E1,"Theft\nfrom vehicle",2025-02-01,-83,42.3\n'
        + "E2,Theft,bad,-83,42.3\n\nE3,Theft,2025-02-01,-83,42.3"
    )
    rows = _read(text, batch_bytes=16)
    assert [r[0] if isinstance(r, tuple) else r.line for r in rows] == [2, 4, 6]
    assert rows[0][3] == "theft_from_vehicle" and isinstance(rows[1], RowError)


def test_rows_not_in_the_encoding_are_reported_by_line() -> None:
    data = (HEADER + "E1,Vol,2025-02-01,-83,42.3\nE2,Vol qualifi\xe9,2025-02-01,-83,42.3\n").encode("latin-1")
    rows = _read(data)
    assert isinstance(rows[0], tuple) and rows[1] == RowError(
        3, "is not valid utf-8 (byte 0xE9); give the file's encoding"
    )
    assert _read(data, encoding="latin-1")[1][3] == "vol_qualifié"
    # A codec that decodes to text PostgreSQL cannot hold (a lone surrogate) is refused the same way.
    escaped = (HEADER + "E1,a\\ud800b,2025-02-01,-83,42.3\n").encode()
    assert _read(escaped, encoding="unicode_escape")[0] == RowError(
        2, "is not valid unicode_escape; give the file's encoding"
    )


def test_nul_characters_byte_order_marks_and_empty_files() -> None:
    rows = _read(b"\xef\xbb\xbf" + (HEADER + "E1,Th\x00eft,2025-02-01,-83,42.3\n").encode())
    assert rows == [RowError(2, "contains a NUL character")]
    with pytest.raises(HeaderError, match="empty"):
        _read("")
    with pytest.raises(HeaderError, match="header"):
        _read(b"Incident Number,Offence\xff,Occurred,X,Y\n")


def test_the_column_reader_and_the_row_reader_agree() -> None:
    columns = map_columns(["id", "offence", "date", "x", "y", "agency"], {}, "wps")
    clean = [[f"E{n}", "Break and Enter", f"2025-03-{n:02d}T01:30", "-83.01", "42.3", "wps"] for n in range(1, 20)]
    clean.append(["E99", "Theft", "2025-03-09T12:00:00+00:00", "-83", "42.31", "city"])
    lines = list(range(2, 2 + len(clean)))
    by_row = row_parser(columns, TORONTO)
    expected = [by_row(cells, line) for cells, line in zip(clean, lines, strict=True)]
    assert batch_parser(columns, TORONTO)(clean, lines) == expected
    dirty = [*clean[:3], ["E5", "Theft", "soon", "-83", "42.3", "wps"]]
    got = batch_parser(columns, TORONTO)(dirty, lines[:4])
    assert got[:3] == expected[:3] and isinstance(got[3], RowError) and got[3].line == 5


def test_ids_are_time_ordered_uuid7_that_grow_with_the_line() -> None:
    base = id_base()
    ids = [uuid.UUID(int=base | line) for line in (1, 2, 1000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids) and id_base() >> 80 >= base >> 80  # the millisecond part never goes back
