"""Property-based API tests with Schemathesis against every service's own OpenAPI document.

Real processes. Schemathesis runs as its command line does: its examples, coverage and fuzzing
phases with at least ``EXAMPLES_PER_OPERATION`` cases for every operation, valid and invalid
data, then its stateful phase (sequences of calls following the links it infers, e.g. create
then read, change and delete by the id answered). No answer is a 5xx, and every answer (status
code, content type, body) matches what the document promises. With an admin key (every route
reachable) and without one (every route must refuse cleanly).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.processes import LOGS, Platform

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 100
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
RUN_LIMIT_S = 1500


def _run(platform: Platform, service: str, *, key: bool, phases: str, tmp_path: Path) -> str:
    args = [
        SCHEMATHESIS,
        "run",
        f"{platform.url(service)}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        phases,
        "--seed",
        "1",
        # One worker: Hypothesis describes strategies with ast.parse, and CPython 3.11's AST builder keeps its
        # recursion depth in per-interpreter state, so two worker threads can crash the run with
        # "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905).
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "30",
        "--no-color",
        "--output-truncate",
        "true",
        "--report-dir",
        str(tmp_path),
    ]
    if key:
        args += ["--header", f"Authorization: Bearer {platform.api_key}"]  # type: ignore[attr-defined]
    log = LOGS / f"schemathesis-{service}-{'key' if key else 'no-key'}.log"
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        # In a scratch directory: the command line keeps a cache of past failures where it runs.
        done = subprocess.run(
            args, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, timeout=RUN_LIMIT_S, check=False
        )
    output = log.read_text()
    assert done.returncode == 0, output[-20_000:]
    print(f"\n{service} ({'key' if key else 'no key'}): {_summary(output)}")
    return output


def _summary(output: str) -> str:
    """Schemathesis's own count of the cases it ran, for the run's log."""
    found = re.findall(r"^.*(?:test cases|Test cases|generated).*$", output, flags=re.MULTILINE)
    return " | ".join(line.strip() for line in found[-3:])


@pytest.mark.timeout(RUN_LIMIT_S + 60)
@pytest.mark.parametrize("service", ["audits", "events", "metrics"])
def test_the_api_keeps_the_promises_of_its_openapi_document(platform: Platform, service: str, tmp_path: Path) -> None:
    _run(platform, service, key=True, phases="examples,coverage,fuzzing,stateful", tmp_path=tmp_path)


@pytest.mark.timeout(RUN_LIMIT_S + 60)
@pytest.mark.parametrize("service", ["audits", "events", "metrics"])
def test_without_a_key_every_route_refuses_cleanly(platform: Platform, service: str, tmp_path: Path) -> None:
    _run(platform, service, key=False, phases="examples,coverage,fuzzing", tmp_path=tmp_path)
