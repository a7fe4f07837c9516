"""Choosing the representation from ``Accept``: the most specific range counts, ties go to the server's order."""

from __future__ import annotations

import pytest

from shared.web.media import JSON, PDF, NotAcceptable, preferred


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("application/pdf", PDF),
        ("application/json", JSON),
        ("*/*", JSON),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        ("application/json;q=0.5, application/pdf", PDF),
        ("application/*;q=0.2, application/pdf;q=0.9", PDF),
        ("*/*;q=0.1, application/json;q=0", PDF),
        ("application/pdf; charset=binary", PDF),
        ("not a media type", JSON),
    ],
)
def test_the_preferred_media_type(accept: str | None, chosen: str) -> None:
    assert preferred(accept, (JSON, PDF)) == chosen


@pytest.mark.parametrize(
    "accept", ["text/csv", "image/*", "application/json;q=0, application/pdf;q=0", "*/*;q=0", "*/*;q=nan"]
)
def test_nothing_acceptable_is_a_406_naming_what_is_served(accept: str) -> None:
    with pytest.raises(NotAcceptable) as refused:
        preferred(accept, (JSON, PDF))
    assert refused.value.status == 406 and refused.value.body()["available_media_types"] == [JSON, PDF]
