"""Property-based API tests with Schemathesis against every service's own OpenAPI document.

Real processes, with and without a key: no 5xx, and every answer (status code,
content type, body) matches what the document promises. Bounded in cases.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.processes import Platform

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 8


def _failures(platform: Platform, service: str, with_key: bool) -> list[str]:
    base_url = platform.url(service)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {platform.api_key}"} if with_key else {}  # type: ignore[attr-defined]
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{service} documents no operation"
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

        try:
            exercise()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    return failures


@pytest.mark.parametrize("service", ["audits", "events", "metrics"])
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
def test_the_api_keeps_the_promises_of_its_openapi_document(platform: Platform, service: str, with_key: bool) -> None:
    failures = _failures(platform, service, with_key)
    assert not failures, "\n\n".join(failures)
