"""Small factories for request bodies."""

from __future__ import annotations

import itertools
from typing import Any

_seq = itertools.count(1)


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]],
    }


def neighbourhood(**overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    body = {
        "name": f"Neighbourhood {n}",
        "municipality": "Windsor",
        "boundary": square(-83.05 + n * 0.011, 42.30),
        "population": 5000 + n,
    }
    return body | overrides


def partnership(neighbourhood_ids: list[str], **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    body = {
        "name": f"Partnership {n}",
        "police_service": "Windsor Police Service",
        "neighbourhood_ids": neighbourhood_ids,
        "safety_committees": ["Glengarry Safety Committee"],
        "business_improvement_areas": ["Downtown Windsor BIA"],
        "formalized_on": "2020-05-01",
    }
    return body | overrides


def audit(partnership_id: str, neighbourhood_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "partnership_id": partnership_id,
        "neighbourhood_id": neighbourhood_id,
        "site_name": "Alley behind 600 Glengarry Ave",
        "conducted_on": "2025-04-10",
        "auditors": ["Const. A. Moreau", "J. Singh"],
        "trigger": "crime_statistics",
        "findings": [{"principle": "natural_surveillance", "rating": 2, "notes": "dark alley"}],
        "status": "completed",
    }
    return body | overrides


def recommendation(**overrides: Any) -> dict[str, Any]:
    body = {
        "category": "lighting",
        "description": "Install LED lighting along the alley",
        "responsible_party": "City of Windsor Public Works",
        "priority": "high",
    }
    return body | overrides
