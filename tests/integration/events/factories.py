"""Small factories for request bodies of the events service."""

from __future__ import annotations

import itertools
from typing import Any

_seq = itertools.count(1)


def event(partnership_ids: list[str], **overrides: Any) -> dict[str, Any]:
    body = {
        "partnership_ids": partnership_ids,
        "name": f"Glengarry summer festival {next(_seq)}",
        "kind": "festival",
        "special": True,
        "starts_at": "2025-07-12T11:00:00-04:00",
        "ends_at": "2025-07-12T17:00:00-04:00",
        "officers_attending": 4,
        "attendance": 350,
        "status": "held",
    }
    return body | overrides


def material(**overrides: Any) -> dict[str, Any]:
    body = {
        "slug": f"cpted-audit-brochure-{next(_seq)}",
        "kind": "brochure",
        "topic": "cpted_audit",
        "source_language": "en",
        "published_on": "2025-03-01",
        "translations": {
            "en": {"title": "What is a CPTED audit?", "body": "Residents and officers walk the block together."},
            "fr": {"title": "Qu'est-ce qu'une évaluation CPTED?", "body": "Résidents et agents marchent ensemble."},
        },
    }
    return body | overrides


def distribution(material_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "material_id": material_id,
        "agency": "Windsor Police Service",
        "language": "en",
        "copies": 250,
        "audience": "frontline_staff",
        "distributed_on": "2025-04-15",
    }
    return body | overrides


def training(**overrides: Any) -> dict[str, Any]:
    body = {
        "agency": "Windsor Police Service",
        "topic": "non_stigmatizing_language",
        "cohort": "recruits",
        "attendees": 24,
        "held_on": "2025-09-10",
    }
    return body | overrides


def stakeholder(partnership_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "partnership_id": partnership_id,
        "name": f"Glengarry Residents Association {next(_seq)}",
        "kind": "residents_association",
        "connected_on": "2025-02-03",
    }
    return body | overrides
