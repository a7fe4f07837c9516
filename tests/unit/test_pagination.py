"""Cursors a client gets back from list endpoints."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from shared.errors import InvalidField
from shared.web.pagination import decode_cursor, encode_cursor


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 11, 2, 1, 30, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_a_cursor_round_trips(created_at: datetime) -> None:
    id_ = uuid.uuid4()
    cursor = encode_cursor(created_at, id_)
    assert decode_cursor(cursor) == (created_at, id_)
    assert cursor.isascii() and "=" not in cursor and "/" not in cursor and "+" not in cursor


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "%%%%",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _b64({"created_at": "2026-03-01T00:00:00+00:00"}),
        _b64(["2026-03-01T00:00:00+00:00"]),
        _b64(["yesterday", str(uuid.uuid4())]),
        _b64(["2026-03-01T00:00:00+00:00", "not-a-uuid"]),
        _b64([1, 2]),
    ],
)
def test_a_garbage_cursor_is_an_invalid_query_cursor(cursor: str) -> None:
    with pytest.raises(InvalidField) as invalid:
        decode_cursor(cursor)
    assert invalid.value.field == "query.cursor"
    assert invalid.value.status == 422
