"""Field rules every request body shares, and optimistic concurrency."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from shared.contracts.fields import Day, Input, Name, Note, Text
from shared.errors import PreconditionFailed
from shared.web.versioning import apply_changes, check_if_match


class Body(Input):
    name: Name
    note: Note = ""
    description: Text | None = None
    on: Day | None = None


def test_names_are_stripped_of_surrounding_whitespace() -> None:
    assert Body(name="  Kensington Market \n").name == "Kensington Market"


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_empty_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="name"):
        Body(name=name)


@pytest.mark.parametrize("field", ["name", "note", "description"])
def test_nul_characters_are_refused_in_every_text_field(field: str) -> None:
    values = {"name": "ok", field: "before\x00after"}
    with pytest.raises(ValidationError, match="NUL"):
        Body(**values)


def test_an_empty_note_is_allowed() -> None:
    assert Body(name="x", note="  ").note == ""


def test_names_longer_than_200_characters_are_refused() -> None:
    Body(name="x" * 200)
    with pytest.raises(ValidationError, match="200"):
        Body(name="x" * 201)


@pytest.mark.parametrize("on", [date(1900, 1, 1), date(2100, 12, 31), date(2026, 3, 1)])
def test_dates_within_the_programme_range_are_accepted(on: date) -> None:
    assert Body(name="x", on=on).on == on


@pytest.mark.parametrize("on", [date(1899, 12, 31), date(2101, 1, 1), date(1, 1, 1)])
def test_dates_outside_1900_to_2100_are_refused(on: date) -> None:
    with pytest.raises(ValidationError, match="between 1900-01-01 and 2100-12-31"):
        Body(name="x", on=on)


def test_unknown_fields_are_refused_not_dropped() -> None:
    with pytest.raises(ValidationError, match="staus"):
        Body(name="x", staus="completed")


@pytest.mark.parametrize("if_match", [None, "*", " * ", '"3"', 'W/"3"', '"2", "3"'])
def test_a_current_or_absent_if_match_is_accepted(if_match: str | None) -> None:
    check_if_match(if_match, 3)


@pytest.mark.parametrize("if_match", ['"2"', '"4"', 'W/"2", "30"', "3"])
def test_a_stale_if_match_is_refused(if_match: str) -> None:
    with pytest.raises(PreconditionFailed, match="version is now 3") as failed:
        check_if_match(if_match, 3)
    assert failed.value.status == 412


def a_row() -> SimpleNamespace:
    return SimpleNamespace(name="Old", status="active", version=4, updated_at=datetime(2020, 1, 1, tzinfo=UTC))


def test_apply_changes_bumps_the_version_when_something_changed() -> None:
    row = a_row()
    assert apply_changes(row, {"name": "New", "status": "active"}) is True
    assert (row.name, row.status, row.version) == ("New", "active", 5)
    assert row.updated_at > datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("changes", [{}, {"name": "Old"}, {"name": "Old", "status": "active"}])
def test_apply_changes_leaves_the_version_alone_when_nothing_changed(changes: dict[str, str]) -> None:
    row = a_row()
    assert apply_changes(row, changes) is False
    assert (row.version, row.updated_at) == (4, datetime(2020, 1, 1, tzinfo=UTC))
