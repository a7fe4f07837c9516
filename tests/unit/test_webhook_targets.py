"""Where a webhook may point, and which event types a filter may name."""

from __future__ import annotations

import pytest

from services.metrics.webhooks.domain import BadTarget, check_target
from shared.bus.changes import event_types, parse_cursor, parse_types
from shared.errors import InvalidField


@pytest.mark.parametrize("env", ["dev", "test", "prod"])
def test_https_is_accepted_everywhere(env: str) -> None:
    assert check_target("https://city.example.org/cpted?x=1", env) == "https://city.example.org/cpted?x=1"


@pytest.mark.parametrize(
    ("url", "env"),
    [
        ("http://127.0.0.1:8080/hooks", "prod"),  # plain http only in development and tests
        ("http://city.example.org/hooks", "test"),  # and only to this machine
        ("ftp://127.0.0.1/hooks", "test"),
        ("https://user:pw@city.example.org/", "prod"),
        ("https://city.example.org:99999999/", "prod"),
        ("https://[::1/", "prod"),
        ("https://city.example.org/\x00", "prod"),
        ("https://city example.org/", "prod"),
        ("/relative", "prod"),
    ],
)
def test_other_targets_are_refused(url: str, env: str) -> None:
    with pytest.raises(BadTarget):
        check_target(url, env)


def test_loopback_http_is_accepted_in_development_and_tests() -> None:
    assert check_target("http://127.0.0.1:8080/hooks", "test")
    assert check_target("http://localhost:8080/hooks", "dev")


def test_types_may_be_comma_separated_and_repeated_and_unknown_ones_are_named() -> None:
    known = event_types(["audits"])
    assert parse_types(["audit.created, recommendation.created", "audit.created"], known) == {
        "audit.created",
        "recommendation.created",
    }
    assert parse_types(None, known) is None
    with pytest.raises(InvalidField) as refused:
        parse_types(["audit.created,event.created"], known)
    assert refused.value.field == "query.types" and "event.created" in refused.value.detail


@pytest.mark.parametrize("cursor", ["-1", "1.5", "²", "9" * 20, "abc"])
def test_a_cursor_not_issued_by_the_feed_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidField):
        parse_cursor(cursor)
