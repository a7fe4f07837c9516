"""How the Open311 operations answer, for the OpenAPI document: both formats, and the specification's errors."""

from __future__ import annotations

from typing import Any

NULLABLE_STRING = {"type": ["string", "null"]}

ERRORS_SCHEMA = {
    "type": "array",
    "description": "GeoReport v2 errors; `code` matches the HTTP status",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
SERVICES_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_code", "service_name", "metadata", "type"],
        "properties": {
            "service_code": {"type": "string"},
            "service_name": {"type": "string"},
            "description": {"type": "string"},
            "metadata": {"type": "boolean"},
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": {"type": "string"},
            "group": {"type": "string"},
        },
    },
}
ATTRIBUTE_SCHEMA = {
    "type": "object",
    "required": ["variable", "code", "datatype", "required", "order", "description"],
    "properties": {
        "variable": {"type": "boolean"},
        "code": {"type": "string"},
        "datatype": {
            "type": "string",
            "enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"],
        },
        "required": {"type": "boolean"},
        "datatype_description": NULLABLE_STRING,
        "order": {"type": "integer"},
        "description": {"type": "string"},
        "values": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "name"],
                "properties": {"key": {"type": "string"}, "name": {"type": "string"}},
            },
        },
    },
}
DEFINITION_SCHEMA = {
    "type": "object",
    "required": ["service_code", "attributes"],
    "properties": {"service_code": {"type": "string"}, "attributes": {"type": "array", "items": ATTRIBUTE_SCHEMA}},
}
REQUEST_FIELDS = (
    "service_request_id status status_notes service_name service_code description agency_responsible "
    "service_notice requested_datetime updated_datetime expected_datetime address address_id zipcode media_url"
).split()
REQUESTS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_request_id", "status", "service_code", "requested_datetime"],
        "properties": {
            **{name: NULLABLE_STRING for name in REQUEST_FIELDS},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "lat": {"type": ["number", "null"]},
            "long": {"type": ["number", "null"]},
        },
    },
}
CREATED_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_request_id"],
        "properties": {
            "service_request_id": {"type": "string"},
            "service_notice": NULLABLE_STRING,
            "account_id": NULLABLE_STRING,
        },
    },
}
DISCOVERY_SCHEMA = {
    "type": "object",
    "required": ["changeset", "contact", "key_service", "endpoints"],
    "properties": {
        "changeset": {"type": "string"},
        "contact": {"type": "string"},
        "key_service": {"type": "string"},
        "endpoints": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["specification", "url", "type", "formats"],
                "properties": {
                    "specification": {"type": "string"},
                    "url": {"type": "string"},
                    "changeset": {"type": "string"},
                    "type": {"type": "string", "enum": ["production", "test"]},
                    "formats": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
FORM_SCHEMA = {
    "type": "object",
    "required": ["service_code"],
    "properties": {
        "api_key": {"type": "string", "description": "an admin or editor API key (here, not in a header: the spec)"},
        "jurisdiction_id": {"type": "string"},
        "service_code": {"type": "string", "enum": ["cpted_audit_request"]},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "long": {"type": "number", "minimum": -180, "maximum": 180},
        "address_string": {"type": "string"},
        "address_id": {"type": "string"},
        "email": {"type": "string"},
        "device_id": {"type": "string"},
        "account_id": {"type": "string"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "phone": {"type": "string"},
        "description": {"type": "string", "maxLength": 4000},
        "media_url": {"type": "string"},
        "attribute[place]": {"type": "string"},
        "attribute[concern]": {"type": "string"},
    },
}
POST_BODY = {
    "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": FORM_SCHEMA}}}
}

_WHY = {
    400: "Bad request (GeoReport v2 error list)",
    403: "Missing or invalid api_key (GeoReport v2 error list)",
    404: "Not found: service_code, service_request_id, token or jurisdiction_id (GeoReport v2 error list)",
}


def _both(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}, "text/xml": {"schema": {"type": "string"}}}


def responses(success: dict[str, Any], *errors: int) -> dict[int | str, dict[str, Any]]:
    documented: dict[int | str, dict[str, Any]] = {200: {"description": "OK", "content": _both(success)}}
    for status in errors:
        documented[status] = {"description": _WHY[status], "content": _both(ERRORS_SCHEMA)}
    return documented
