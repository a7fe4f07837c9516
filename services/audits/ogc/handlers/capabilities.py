"""The capabilities of ``/ogc`` besides its collections: the landing page and the conformance classes."""

from __future__ import annotations

from typing import Any

from services.audits.ogc.domain.standard import CONFORMANCE, JSON, OPENAPI, link


def landing(base: str) -> dict[str, Any]:
    return {
        "title": "CPTED audits",
        "description": "Neighbourhoods, CPTED audits, their recommendations, audit requests, community events "
        "and monthly crime incident counts by neighbourhood.",
        "links": [
            link(f"{base}/", "self", JSON, "this document"),
            link(f"{base}/api", "service-desc", OPENAPI, "the API definition"),
            link(f"{base}/api.html", "service-doc", "text/html", "the API documentation"),
            link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
            link(f"{base}/collections", "data", JSON, "feature collections"),
        ],
    }


def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}
