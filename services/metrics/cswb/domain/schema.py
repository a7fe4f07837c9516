"""The JSON Schema every CSWB feed validates against, published at ``GET /v1/cswb/schema``.

Generated from the indicator catalogue, so a new indicator is in the schema
the moment it is in the catalogue; the schema also ties each indicator to its
CSWB area, so a mis-tagged indicator cannot be published.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from services.metrics.cswb.domain.document import CSV_COLUMNS, SCHEMA_ID, SCHEMA_VERSION
from services.metrics.cswb.domain.indicators import CATALOGUE, PERIODS, Area
from services.metrics.cswb.domain.suppression import RULE

UNITS = ("count", "ratio", "percent")

DESCRIPTION = (
    "The nightly feed of the CPTED partnerships programme to the province and the municipality's Community "
    "Safety and Well-Being (CSWB) committee. Aggregates only: counts and pooled statistics, never an incident, a "
    "person or a name. Each indicator is tagged with its area of Ontario's CSWB framework (social_development, "
    "prevention, risk_intervention, incident_response). Periods are local days in 'timezone', inclusive: 'day' "
    "is the feed date alone, 'year_to_date' 1 January of its year to the date, 'to_date' everything up to the "
    "date; the pooled evaluation is as of the date ('to_date' only). Counting rules are those of the metrics "
    "service's /v1/totals. "
    + RULE
    + " A CSV twin (GET /v1/cswb/feeds/{date}.csv) has the columns "
    + ", ".join(CSV_COLUMNS)
    + "; building a date twice from the same data gives byte-identical documents."
)


def _indicator() -> dict[str, Any]:
    by_area = [
        {"properties": {"area": {"const": area.value}, "indicator": {"enum": names}}}
        for area in Area
        if (names := sorted(n for n, spec in CATALOGUE.items() if spec.area is area))
    ]
    counts = {"additionalProperties": {"type": ["integer", "null"], "minimum": 0}}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["indicator", "area", "unit", "values"],
        "properties": {
            "indicator": {"enum": sorted(CATALOGUE), "description": "see x-indicators at the root"},
            "area": {"enum": [a.value for a in Area]},
            "unit": {"enum": list(UNITS)},
            "key": {"type": "string", "minLength": 1, "description": "the category or status of a breakdown"},
            "values": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {p: {"type": ["number", "null"]} for p in PERIODS},
            },
            "suppressed": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(PERIODS)}},
        },
        "oneOf": by_area,
        "if": {"properties": {"unit": {"const": "count"}}},
        "then": {"properties": {"values": counts}},
    }


def _block(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    indicators = {"type": "array", "items": {"$ref": "#/$defs/indicator"}}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [*required, "indicators"],
        "properties": {**extra, "indicators": indicators},
    }


def _periods() -> dict[str, Any]:
    period = {
        "type": "object",
        "additionalProperties": False,
        "required": ["from", "to"],
        "properties": {
            "from": {"type": ["string", "null"], "format": "date"},
            "to": {"type": "string", "format": "date"},
        },
    }
    return {"type": "object", "additionalProperties": False, "required": list(PERIODS),
            "properties": dict.fromkeys(PERIODS, period)}  # fmt: skip


def _evaluation() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "how to read the pooled evaluation: which outcome is primary and decides significance, "
        "its method, the corrections applied, and whether only audits with complete after windows are pooled",
        "required": ["primary", "significant", "method", "corrections", "complete"],
        "properties": {
            "primary": {"type": ["string", "null"]},
            "significant": {"type": ["boolean", "null"]},
            "method": {"type": ["string", "null"]},
            "corrections": {"type": "array", "items": {"type": "string"}},
            "complete": {"type": "boolean"},
        },
    }


def _properties() -> dict[str, Any]:
    uuid_ = {"type": "string", "format": "uuid"}
    partnership = {"id": uuid_, "neighbourhood_ids": {"type": "array", "items": uuid_}}
    return {
        "$schema": {"const": SCHEMA_ID},
        "schema_version": {"const": SCHEMA_VERSION},
        "feed_date": {"type": "string", "format": "date"},
        "timezone": {"type": "string", "minLength": 1},
        "periods": _periods(),
        "evaluation": _evaluation(),
        "overall": _block({}, []),
        "neighbourhoods": {"type": "array", "items": _block({"id": uuid_}, ["id"])},
        "partnerships": {"type": "array", "items": _block(partnership, ["id"])},
    }


@lru_cache
def feed_schema() -> dict[str, Any]:
    properties = _properties()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "CSWB nightly feed of the CPTED partnerships programme",
        "description": DESCRIPTION,
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
        "$defs": {"indicator": _indicator()},
        "x-indicators": {
            name: {"area": spec.area.value, "unit": spec.unit, "breakdown": spec.breakdown, "description": spec.text}
            for name, spec in sorted(CATALOGUE.items())
        },
    }


@lru_cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(feed_schema(), format_checker=FormatChecker())


class FeedInvalid(ValueError):
    """A feed that does not validate against the published schema (a bug: it is never stored)."""


def validate(document: dict[str, Any]) -> None:
    error = next(iter(_validator().iter_errors(document)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise FeedInvalid(f"{where or 'document'}: {error.message}")


def _inlined(node: Any, indicator: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if node.get("$ref") == "#/$defs/indicator":
            return indicator
        return {k: _inlined(v, indicator) for k, v in node.items()}
    if isinstance(node, list):
        return [_inlined(v, indicator) for v in node]
    return node


def embedded_feed_schema() -> dict[str, Any]:
    """The feed's schema as an OpenAPI 3.1 document embeds it: self-contained (the indicator inlined), no ``$id``."""
    schema = feed_schema()
    kept = {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs", "x-indicators")}
    return dict(_inlined(kept, schema["$defs"]["indicator"]))
