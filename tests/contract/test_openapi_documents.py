"""What generated clients and the docs page read from the OpenAPI documents: auth, servers, operation ids, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.settings import get_settings

SERVICES = ("audits", "events", "metrics")
UNAUTHENTICATED = {"/healthz", "/readyz", "/v1/cswb/schema"}
PUBLIC_PREFIXES = ("/open311", "/ogc")


def _document(service: str) -> dict[str, Any]:
    module = __import__(f"services.{service}.app", fromlist=["create_app"])
    return dict(module.create_app().openapi())


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


@pytest.mark.parametrize("service", SERVICES)
def test_every_keyed_operation_declares_the_bearer_key(service: str) -> None:
    document = _document(service)
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, method, operation in _operations(document):
        if path in UNAUTHENTICATED:
            assert "security" not in operation, (method, path)
        elif path.startswith(PUBLIC_PREFIXES):
            assert operation["security"] == [{}, {"apiKey": []}], (method, path)
        else:
            assert {"apiKey": []} in operation["security"], (method, path)
    assert "apiKeyOptional" not in document["components"]["securitySchemes"]


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_names_its_server(service: str) -> None:
    assert _document(service)["servers"] == [{"url": getattr(get_settings(), f"{service}_url")}]


@pytest.mark.parametrize("service", SERVICES)
def test_operation_ids_are_short_unique_names(service: str) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(_document(service))]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]{2,40}", operation_id), operation_id
        assert "_v1_" not in operation_id and not operation_id.endswith(("_get", "_post")), operation_id


@pytest.mark.parametrize("service", SERVICES)
def test_operations_list_only_the_errors_they_can_give(service: str) -> None:
    for path, method, operation in _operations(_document(service)):
        if path in UNAUTHENTICATED or path.startswith(PUBLIC_PREFIXES):
            continue
        codes = set(operation["responses"])
        assert ("412" in codes) == any(p["name"].lower() == "if-match" for p in operation.get("parameters", [])), path
        assert ("413" in codes) == ("requestBody" in operation), (method, path)
        assert method == "get" or "409" in codes, (method, path)
        assert {"401", "403", "422", "429", "503"} <= codes, (method, path)


def test_an_evaluation_says_it_may_lack_data() -> None:
    document = _document("metrics")
    evaluation = document["paths"]["/v1/evaluations/audits/{audit_id}"]["get"]["responses"]["409"]
    assert evaluation["description"].startswith("Not enough data")
    assert evaluation["content"]["application/problem+json"]
    assert "409" not in document["paths"]["/v1/totals"]["get"]["responses"]


def test_oidc_is_declared_as_an_alternative_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "oidc_issuer", "https://login.city.example/realms/cpted")
    document = _document("metrics")
    assert document["components"]["securitySchemes"]["oidc"] == {
        "type": "openIdConnect",
        "openIdConnectUrl": "https://login.city.example/realms/cpted/.well-known/openid-configuration",
    }
    _, _, totals = next(op for op in _operations(document) if op[0] == "/v1/totals")
    assert totals["security"] == [{"apiKey": []}, {"oidc": []}]


@pytest.mark.parametrize("service", SERVICES)
def test_the_headers_clients_use_are_declared(service: str) -> None:
    document = _document(service)
    for path, method, operation in _operations(document):
        if path.startswith(PUBLIC_PREFIXES) or path in UNAUTHENTICATED:
            continue
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        responses = operation["responses"]
        if method == "get" and "application/json" in responses["200"].get("content", {}):
            assert "If-None-Match" in headers, path
            assert "ETag" in responses["200"]["headers"], path
            assert "304" in responses, path
        if "201" in responses:
            assert "Location" in responses["201"]["headers"], path
        if method == "post":
            assert "Idempotency-Key" in headers, path
        for code in ("429", "503"):
            assert "Retry-After" in responses[code]["headers"], (method, path)


def test_binary_answers_are_declared_as_bytes() -> None:
    image = _document("audits")["paths"]["/v1/photos/{photo_id}/image"]["get"]["responses"]["200"]["content"]
    assert image["image/jpeg"]["schema"] == {"type": "string", "format": "binary"}
    calendar = _document("events")["paths"]["/v1/partnerships/{partnership_id}/calendar.ics"]["get"]
    assert calendar["responses"]["200"]["content"]["text/calendar"]["schema"] == {"type": "string"}


CLIENT_GENERATOR = Path(__file__).resolve().parents[2] / ".venv-clients" / "bin" / "openapi-python-client"
CLIENT_CONFIG = Path(__file__).resolve().parents[2] / "clients" / "openapi-python-client.yml"


@pytest.mark.parametrize("service", SERVICES)
def test_a_generated_python_client_misses_nothing(service: str, tmp_path: Path) -> None:
    """openapi-python-client (installed by `make test`) generates every operation, answer and model, warning-free."""
    assert CLIENT_GENERATOR.exists(), "run `make install` and `make test`: the client generator lives in .venv-clients"
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(_document(service)))
    command = [str(CLIENT_GENERATOR), "generate", "--path", str(document), "--meta", "none"]
    command += ["--output-path", str(tmp_path / "client"), "--config", str(CLIENT_CONFIG)]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{CLIENT_GENERATOR.parent}:{os.environ['PATH']}"},
    )
    assert run.returncode == 0, run.stderr
    output = run.stdout + run.stderr
    assert not re.search(r"WARNING|Unable|Unsupported|Cannot parse", output), output
    assert (tmp_path / "client" / "api").is_dir()
    # and the code it wrote compiles without a warning (a SyntaxWarning today is a SyntaxError tomorrow)
    python = CLIENT_GENERATOR.parent / "python"
    compiled = subprocess.run(
        [str(python), "-W", "error", "-m", "compileall", "-q", str(tmp_path / "client")], capture_output=True, text=True
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_the_totals_maps_are_keyed_by_the_vocabulary() -> None:
    totals = _document("metrics")["components"]["schemas"]["Totals"]["properties"]
    for field, vocabulary in (
        ("recommendations_by_status", "RecommendationStatus"),
        ("recommendations_by_category", "RecommendationCategory"),
    ):
        assert totals[field]["propertyNames"] == {"$ref": f"#/components/schemas/{vocabulary}"}
        assert totals[field]["additionalProperties"] == {"type": "integer"}


def test_places_are_typed_geojson_in_every_answer() -> None:
    """A generated client gets Point and Polygon/MultiPolygon types, not a bare object, for every place."""
    places = {
        "audits": [("NeighbourhoodRead", "boundary"), ("AuditRead", "location"), ("AuditRequestRead", "location")],
        "events": [("EventRead", "location")],
        "metrics": [("IncidentRead", "location")],
    }
    for service, fields in places.items():
        schemas = _document(service)["components"]["schemas"]
        for model, field in fields:
            text = json.dumps(schemas[model]["properties"][field])
            assert "PointRead" in text or "PolygonRead" in text, (service, model, field, text)
    boundary = _document("audits")["components"]["schemas"]["NeighbourhoodRead"]["properties"]["boundary"]
    assert boundary["discriminator"]["propertyName"] == "type"
