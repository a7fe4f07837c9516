"""The OpenAPI 3.0 definition of ``/ogc`` (the standard's oas30 conformance class asks for 3.0, not 3.1)."""

from __future__ import annotations

from typing import Any

from services.audits.ogc.domain.features import COLLECTIONS
from services.audits.ogc.domain.standard import GEOJSON, JSON, OPENAPI

REF = "#/components/"
LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {n: {"type": "string"} for n in ("href", "rel", "type", "hreflang", "title")},
}
POSITION = {
    "type": "array",
    "description": "[longitude, latitude] or [longitude, latitude, elevation], CRS84",
    "minItems": 2,
    "maxItems": 3,
    "items": {"type": "number"},
}


def _geometry(kind: str, depth: int) -> dict[str, Any]:
    coordinates: dict[str, Any] = POSITION
    for _ in range(depth):
        coordinates = {"type": "array", "items": coordinates}
    return {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {"type": {"type": "string", "enum": [kind]}, "coordinates": coordinates},
    }


_INTERVAL_END = {"type": "string", "format": "date-time", "nullable": True}
EXTENT = {
    "type": "object",
    "properties": {
        "spatial": {
            "type": "object",
            "required": ["bbox"],
            "properties": {
                "bbox": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                },
                "crs": {"type": "string"},
            },
        },
        "temporal": {
            "type": "object",
            "required": ["interval"],
            "properties": {
                "interval": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": _INTERVAL_END},
                },
                "trs": {"type": "string"},
            },
        },
    },
}
SCHEMAS: dict[str, Any] = {
    "extent": EXTENT,
    "pointGeoJSON": _geometry("Point", 0),
    "polygonGeoJSON": _geometry("Polygon", 2),
    "multipolygonGeoJSON": _geometry("MultiPolygon", 3),
    "link": LINK,
    "links": {"type": "array", "items": {"$ref": REF + "schemas/link"}},
    "exception": {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
    },
    "landingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": {"$ref": REF + "schemas/links"},
        },
    },
    "confClasses": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
    },
    "collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": {"$ref": REF + "schemas/links"},
            "extent": {"$ref": REF + "schemas/extent"},
            "itemType": {"type": "string"},
            "crs": {"type": "array", "items": {"type": "string"}},
        },
    },
    "collections": {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {
            "links": {"$ref": REF + "schemas/links"},
            "collections": {"type": "array", "items": {"$ref": REF + "schemas/collection"}},
        },
    },
    "featureGeoJSON": {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {
                "nullable": True,
                "oneOf": [{"$ref": REF + f"schemas/{kind}GeoJSON"} for kind in ("point", "polygon", "multipolygon")],
            },
            "properties": {
                "type": "object",
                "nullable": True,
                "description": "The collection's properties, named in its description: text, numbers, true/false, "
                "null, or a list of ids (an event's partnership_ids)",
                "additionalProperties": {
                    "nullable": True,
                    "anyOf": [
                        {"type": "string"},
                        {"type": "number"},
                        {"type": "boolean"},
                        {"type": "array", "items": {"type": "string"}},
                    ],
                },
            },
            "links": {"$ref": REF + "schemas/links"},
        },
    },
    "featureCollectionGeoJSON": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": REF + "schemas/featureGeoJSON"}},
            "links": {"$ref": REF + "schemas/links"},
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    },
}
PARAMETERS: dict[str, Any] = {
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "Features per page; above the maximum, the maximum is used.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
    "bbox": {
        "name": "bbox",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "minLon,minLat,maxLon,maxLat in CRS84 (or six numbers with heights, which are ignored).",
        "schema": {
            "type": "array",
            "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
            "items": {"type": "number"},
        },
    },
    "datetime": {
        "name": "datetime",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "An RFC 3339 date-time or interval (start/end, '..' for an open end).",
        "schema": {"type": "string"},
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "Where a page starts: taken from the 'next' link.",
        "schema": {"type": "string"},
    },
    "f": {
        "name": "f",
        "in": "query",
        "required": False,
        "description": "The format: JSON (GeoJSON for features) is the only one.",
        "schema": {"type": "string", "enum": ["json", "geojson"]},
    },
    "featureId": {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}},
    "collectionId": {
        "name": "collectionId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(COLLECTIONS)},
    },
}
FAILURES = {
    "400": ("A query parameter is unknown or has an invalid value.", JSON),
    "401": ("The API key sent is unknown, revoked or expired.", JSON),
    "403": ("The key sent may not read the service that holds the collection.", JSON),
    "404": ("The collection or feature does not exist.", JSON),
    "406": ("None of the media types in Accept is served.", JSON),
    "500": ("A server error.", JSON),
    "503": ("The service that holds the collection's data (events or metrics) is unavailable.", JSON),
}


def _ok(description: str, media: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"$ref": REF + f"schemas/{schema}"}}}}


def _get(summary: str, ok: dict[str, Any], params: list[str], fails: tuple[str, ...]) -> dict[str, Any]:
    responses = {"200": ok} | {code: {"$ref": REF + f"responses/{code}"} for code in fails}
    tags = ["Data"] if "items" in summary.lower() or "feature" in summary.lower() else ["Capabilities"]
    return {
        "get": {
            "summary": summary,
            "tags": tags,
            "parameters": [{"$ref": REF + f"parameters/{p}"} for p in params],
            "responses": responses,
        }
    }


def _filters(collection_id: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": False, "style": "form", "explode": False,
         "schema": {"type": "string", "enum": list(values)}}
        for name, values in COLLECTIONS[collection_id].filters.items()
    ]  # fmt: skip


def _collection_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for cid, c in COLLECTIONS.items():
        remote = ("403", "503") if c.served_by != "audits" else ()
        items = _get(
            f"Items of {c.title}",
            _ok("A page of features", GEOJSON, "featureCollectionGeoJSON"),
            ["limit", "bbox", "datetime", "cursor", "f"],
            ("400", "401", *remote, "406", "500"),
        )
        items["get"]["parameters"] += _filters(cid)
        paths[f"/ogc/collections/{cid}/items"] = items
        one = _ok("A feature", GEOJSON, "featureGeoJSON")
        paths[f"/ogc/collections/{cid}/items/{{featureId}}"] = _get(
            f"A feature of {c.title}", one, ["featureId", "f"], ("400", "401", *remote, "404", "406", "500")
        )
    return paths


def _capability_paths() -> dict[str, Any]:
    capabilities = ("400", "406", "500")
    return {
        "/ogc/": _get("Landing page", _ok("Links to the API", JSON, "landingPage"), ["f"], capabilities),
        "/ogc/conformance": _get("Conformance classes", _ok("Classes", JSON, "confClasses"), ["f"], capabilities),
        "/ogc/collections": _get("Feature collections", _ok("Collections", JSON, "collections"), ["f"], capabilities),
        "/ogc/collections/{collectionId}": _get(
            "A feature collection",
            _ok("Collection", JSON, "collection"),
            ["collectionId", "f"],
            ("400", "404", "406", "500"),
        ),
        "/ogc/api": _get(
            "This API definition",
            {"description": "OpenAPI 3.0", "content": {OPENAPI: {"schema": {"type": "object"}}}},
            [],
            ("406", "500"),
        ),
        "/ogc/api.html": _get(
            "This API definition as a page",
            {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
            [],
            ("500",),
        ),
    }


def document(server: str) -> dict[str, Any]:
    paths = _capability_paths() | _collection_paths()
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "CPTED audits - OGC API - Features",
            "version": "1.0.0",
            "description": "Neighbourhoods, CPTED audits, their recommendations, audit requests, community events "
            "and monthly crime incident counts by neighbourhood as feature collections. No key is needed; a reader "
            "key (Authorization: Bearer) also lists the recommendation categories that are hidden from the public.",
        },
        "servers": [{"url": server}],
        "security": [{}, {"bearer": []}],
        "tags": [{"name": "Capabilities"}, {"name": "Data"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "parameters": PARAMETERS,
            "responses": {
                code: {"description": why, "content": {media: {"schema": {"$ref": REF + "schemas/exception"}}}}
                for code, (why, media) in FAILURES.items()
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
