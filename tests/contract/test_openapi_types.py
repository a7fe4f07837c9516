"""Every schema a client sends or reads is typed, every keyed operation says so, and no GET lists 412 or 413.

A walk over the three services' OpenAPI documents and the OGC API's own (``/ogc/api`` on audits): from each
operation's request body and answers, through every ``$ref``, property, item and union, it reports a schema a
generator can only type as "anything": ``{}`` (no type at all), an object with no properties and no typed
``additionalProperties`` (and no ``$ref``/``oneOf``/``anyOf``/``allOf``), ``additionalProperties: true``, or an
array of anything. What is free by nature is in ``ALLOWED``, each with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from services.audits.ogc.api.openapi import document as ogc_document
from tests.contract.test_openapi_documents import SERVICES, _document

METHODS = ("get", "put", "post", "delete", "patch")
SHAPING = ("type", "$ref", "oneOf", "anyOf", "allOf", "enum", "const", "not", "properties", "items", "prefixItems")
UNIONS = ("oneOf", "anyOf", "allOf")

ALLOWED = {
    ("audits", "#/components/schemas/TrailEntry/properties/changes/additionalProperties/items"): (
        "the audit trail's [before, after] of a changed field: each has the type of the field it records, "
        "any field of any record"
    ),
    ("events", "#/components/schemas/TrailEntry/properties/changes/additionalProperties/items"): (
        "the audit trail's [before, after] of a changed field, as on audits"
    ),
    ("metrics", "#/paths/~1v1~1cswb~1schema/get/responses/200/content/application~1schema+json/schema"): (
        "a JSON Schema (2020-12) document: its own schema is the JSON Schema meta-schema"
    ),
    ("ogc", "#/paths/~1ogc~1api/get/responses/200/content/application~1vnd.oai.openapi+json;version=3.0/schema"): (
        "an OpenAPI 3.0 document: its own schema is the OpenAPI Specification's"
    ),
}


def documents() -> dict[str, dict[str, Any]]:
    found = {service: _document(service) for service in SERVICES}
    found["ogc"] = ogc_document("http://127.0.0.1:8001")
    return found


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _why_loose(schema: Any) -> str | None:
    if schema is True or (isinstance(schema, dict) and not any(k in schema for k in SHAPING)):
        return "any value ({})"
    if not isinstance(schema, dict):
        return None
    if schema.get("additionalProperties") is True:
        return "additionalProperties: true"
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types and not schema.get("properties") and not isinstance(schema.get("additionalProperties"), dict):
        if not any(k in schema for k in (*UNIONS, "patternProperties")):
            return "an object with no properties"
    if "array" in types and "items" not in schema and "prefixItems" not in schema:
        return "an array of anything"
    return None


def _children(schema: dict[str, Any], pointer: str) -> Iterator[tuple[Any, str]]:
    """Every schema inside this one that describes a value (not ``propertyNames``: names are always text)."""
    for name, child in schema.get("properties", {}).items():
        yield child, f"{pointer}/properties/{_escape(name)}"
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict | bool) and schema.get(key) is not False:
            if key == "additionalProperties" and schema[key] is True:
                continue  # reported on the object itself
            yield schema[key], f"{pointer}/{key}"
    for key in (*UNIONS, "prefixItems"):
        for i, child in enumerate(schema.get(key, [])):
            yield child, f"{pointer}/{key}/{i}"


def _bodies(document: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    """The schema of every request body and answer of every operation, with its JSON pointer."""
    for path, operations in document["paths"].items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            where = f"#/paths/{_escape(path)}/{method}"
            parts = [("requestBody", operation.get("requestBody", {}))]
            parts += [(f"responses/{code}", answer) for code, answer in operation["responses"].items()]
            for part, body in parts:
                if "$ref" in body:
                    where_body, body = body["$ref"], _resolve(document, body["$ref"])
                else:
                    where_body = f"{where}/{part}"
                for media, content in body.get("content", {}).items():
                    yield content.get("schema", {}), f"{where_body}/content/{_escape(media)}/schema"


def loose_schemas(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(pointer, why) of each loosely typed schema reachable from a body, each place once."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    pending = list(_bodies(document))
    while pending:
        schema, pointer = pending.pop()
        if pointer in seen:
            continue
        seen.add(pointer)
        if isinstance(schema, dict) and "$ref" in schema:
            pending.append((_resolve(document, schema["$ref"]), schema["$ref"]))
            continue
        why = _why_loose(schema)
        if why:
            found.append((pointer, why))
        if isinstance(schema, dict):
            pending.extend(_children(schema, pointer))
    return sorted(found)


DOCUMENTS = documents()


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_body_and_answer_is_typed(name: str) -> None:
    loose = [(pointer, why) for pointer, why in loose_schemas(DOCUMENTS[name]) if (name, pointer) not in ALLOWED]
    assert loose == []


def test_every_exception_is_still_there_and_says_why() -> None:
    """An allowed exception that no longer matches anything is stale: remove it."""
    for (name, pointer), why in ALLOWED.items():
        assert len(why) > 30, pointer
        assert (pointer, _why_loose(_resolve(DOCUMENTS[name], pointer))) in loose_schemas(DOCUMENTS[name])


def test_the_walk_finds_what_a_generator_cannot_type() -> None:
    """The walk itself: each kind of loose schema is reported, behind a $ref and inside unions and arrays."""
    typed = {"type": "object", "properties": {"a": {"type": "integer"}}}
    document = {
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}}
                    }
                },
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"type": "array"}}}},
                    "responses": {},
                },
            }
        },
        "components": {
            "schemas": {
                "X": {
                    "type": "object",
                    "properties": {
                        "fine": {"anyOf": [typed, {"type": "null"}]},
                        "bare": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                        "open": {"type": "object", "properties": {"a": {}}, "additionalProperties": True},
                        "map": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "keys": {"type": "object", "propertyNames": {"maxLength": 3}, "additionalProperties": typed},
                    },
                }
            }
        },
    }
    assert loose_schemas(document) == [
        ("#/components/schemas/X/properties/bare/anyOf/0", "an object with no properties"),
        ("#/components/schemas/X/properties/open", "additionalProperties: true"),
        ("#/components/schemas/X/properties/open/properties/a", "any value ({})"),
        ("#/paths/~1x/post/requestBody/content/application~1json/schema", "an array of anything"),
    ]


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_no_get_lists_412_or_413(name: str) -> None:
    """A GET has no If-Match and no body: "If-Match is stale" and "body too large" cannot happen."""
    listed = [
        path
        for path, operations in DOCUMENTS[name]["paths"].items()
        if "get" in operations and {"412", "413"} & set(operations["get"]["responses"])
    ]
    assert listed == []


def _requirements(document: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, list[str]]]:
    return list(operation.get("security", document.get("security", [])))


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_security_requirement_names_a_declared_scheme(name: str) -> None:
    document = DOCUMENTS[name]
    schemes = set(document.get("components", {}).get("securitySchemes", {}))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for requirement in _requirements(document, operation):
                assert set(requirement) <= schemes, (method, path, requirement)


def _example(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("format") == "date" or parameter["name"] == "date":
        return "2026-01-05"
    if schema.get("pattern") == r"^\d+-\d+$":
        return "1-0"
    return "x"


def _probes(document: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(method, url, needs a key) of every operation, its path parameters filled with plausible values."""
    for path, operations in document["paths"].items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            url = path
            for parameter in operation.get("parameters", []):
                if "$ref" in parameter:
                    parameter = _resolve(document, parameter["$ref"])
                if parameter["in"] == "path":
                    url = url.replace("{" + parameter["name"] + "}", _example(parameter))
            requirements = _requirements(document, operation)
            yield method, url, bool(requirements) and {} not in requirements


@pytest.fixture(scope="module")
async def keyless() -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Each service's app, running, asked without a key."""
    apps = {
        service: __import__(f"services.{service}.app", fromlist=["create_app"]).create_app() for service in SERVICES
    }
    clients: dict[str, httpx.AsyncClient] = {}
    contexts = [app.router.lifespan_context(app) for app in apps.values()]
    for context in contexts:
        await context.__aenter__()
    try:
        for service, app in apps.items():
            clients[service] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()
        for context in reversed(contexts):
            await context.__aexit__(None, None, None)


@pytest.mark.parametrize("name", list(DOCUMENTS))
async def test_an_operation_refuses_a_keyless_call_exactly_when_its_document_asks_for_a_key(
    name: str, keyless: dict[str, httpx.AsyncClient]
) -> None:
    """Called without a key, each operation answers 401 if its document lists no keyless alternative, and never
    401 if it does (or lists no security): generated clients and /docs send the key exactly where it is needed."""
    client = keyless["audits" if name == "ogc" else name]
    wrong = []
    for method, url, needs_key in _probes(DOCUMENTS[name]):
        answer = await client.request(method.upper(), url)
        if (answer.status_code == 401) != needs_key:
            wrong.append((method, url, needs_key, answer.status_code))
    assert wrong == []


def _positions(schema: dict[str, Any], document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The innermost arrays of a GeoJSON ``coordinates`` schema: the positions."""
    if "$ref" in schema:
        schema = _resolve(document, schema["$ref"])
    items = schema.get("items", {})
    if items.get("type") == "array" or "$ref" in items:
        yield from _positions(items, document)
    else:
        yield schema


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_geojson_position_is_two_or_three_numbers(name: str) -> None:
    document = DOCUMENTS[name]
    found = []
    for pointer, schema in _schemas(document):
        if {"type", "coordinates"} <= set(schema.get("properties", {})):
            found += [(pointer, p) for p in _positions(schema["properties"]["coordinates"], document)]
    assert found
    for pointer, position in found:
        assert (position["minItems"], position["maxItems"], position["items"]) == (2, 3, {"type": "number"}), pointer


def _schemas(node: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _schemas(value, f"{pointer}/{_escape(str(key))}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas(value, f"{pointer}/{i}")
