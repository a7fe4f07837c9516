"""GeoReport v2 answers in its two formats: XML (required by the specification) and JSON (its Spark convention)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import orjson
from fastapi import Response

from services.audits.open311.domain.georeport import Open311Error

MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# The element a list's members get in XML, by the list's name.
MEMBERS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def check_format(fmt: str) -> None:
    if fmt not in MEDIA_TYPES:
        raise Open311Error(400, f"format {fmt} is not served: use .xml or .json")


def _fill(node: Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, member in value.items():
            _fill(SubElement(node, key), key, member)
    elif isinstance(value, list):
        for member in value:
            _fill(SubElement(node, MEMBERS[name]), MEMBERS[name], member)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value)


def to_xml(root: str, data: Any) -> bytes:
    top = Element(root)
    _fill(top, root, data)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(top, encoding="utf-8", xml_declaration=False)


def answer(fmt: str, root: str, data: Any, status: int = 200) -> Response:
    """``root`` names the XML document element (``services``, ``service_requests``, ``errors``...)."""
    if fmt == "xml":
        return Response(to_xml(root, data), status_code=status, media_type=MEDIA_TYPES["xml"])
    return Response(orjson.dumps(data), status_code=status, media_type=MEDIA_TYPES["json"])


def error_answer(fmt: str, error: Open311Error) -> Response:
    return answer(fmt if fmt in MEDIA_TYPES else "json", "errors", error.body(), error.status)
