"""Rows of the lifecycle exports: one per audit or recommendation, every step's date in its own column.

The same rows feed the CSV (for spreadsheets) and the properties of the
GeoJSON features (for the city's GIS). Values are plain strings, numbers or
None, dates as ``YYYY-MM-DD``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from services.audits.core.domain.places import point_of
from shared.contracts.vocabulary import RecommendationStatus

STEPS = [s.value for s in RecommendationStatus]

RECOMMENDATION_COLUMNS = [
    "id", "audit_id", "partnership_id", "partnership", "neighbourhood_id", "neighbourhood", "site_name",
    "conducted_on", "category", "priority", "description", "responsible_party", "status", "status_note",
    "expected_on", *(f"{s}_on" for s in STEPS), "history", "photos", "created_at", "updated_at",
]  # fmt: skip
AUDIT_COLUMNS = [
    "id", "partnership_id", "partnership", "neighbourhood_id", "neighbourhood", "site_name", "longitude",
    "latitude", "conducted_on", "status", "trigger", "auditors", "findings", "recommendations",
    *(f"recommendations_{s}" for s in STEPS), *(f"first_{s}_on" for s in STEPS), "last_implemented_on",
    "photos", "created_at", "updated_at",
]  # fmt: skip
# Free text typed by people: a spreadsheet would run a leading = + - @ as a formula (CSV injection).
TEXT_COLUMNS = frozenset(
    {"partnership", "neighbourhood", "site_name", "description", "responsible_party", "status_note", "auditors"}
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def lifecycle(history: Sequence[Any], proposed_on: date) -> dict[str, date | None]:
    """The day each status was (last) entered; a recommendation is proposed at its audit."""
    days: dict[str, date | None] = dict.fromkeys(STEPS)
    days[RecommendationStatus.proposed.value] = proposed_on
    for step in history:  # oldest first, so a status entered again keeps its latest day
        days[str(step.to_status)] = step.on
    return days


def _history_text(history: Sequence[Any]) -> str:
    return "; ".join(f"{step.to_status} {step.on.isoformat()}" for step in history)


def recommendation_row(
    rec: Any, audit: Any, history: Sequence[Any], names: Mapping[Any, str], photos: int
) -> dict[str, Any]:
    days = lifecycle(history, audit.conducted_on)
    return {
        "id": str(rec.id),
        "audit_id": str(audit.id),
        "partnership_id": str(audit.partnership_id),
        "partnership": names.get(audit.partnership_id),
        "neighbourhood_id": str(audit.neighbourhood_id),
        "neighbourhood": names.get(audit.neighbourhood_id),
        "site_name": audit.site_name,
        "conducted_on": _day(audit.conducted_on),
        "category": rec.category,
        "priority": rec.priority,
        "description": rec.description,
        "responsible_party": rec.responsible_party,
        "status": rec.status,
        "status_note": rec.status_note,
        "expected_on": _day(rec.expected_on),
        **{f"{s}_on": _day(days[s]) for s in STEPS},
        "history": _history_text(history),
        "photos": photos,
        "created_at": rec.created_at.isoformat(),
        "updated_at": rec.updated_at.isoformat(),
    }


def _firsts(recs: Sequence[Any], history: Mapping[Any, Sequence[Any]], audit_on: date) -> dict[str, Any]:
    """The first day any recommendation of the audit reached each status, and the last implementation."""
    reached: dict[str, list[date]] = {s: [] for s in STEPS}
    for rec in recs:
        reached[RecommendationStatus.proposed.value].append(audit_on)
        for step in history.get(rec.id, []):
            reached[str(step.to_status)].append(step.on)
    firsts = {f"first_{s}_on": _day(min(days)) if days else None for s, days in reached.items()}
    implemented = reached[RecommendationStatus.implemented.value]
    return firsts | {"last_implemented_on": _day(max(implemented)) if implemented else None}


def audit_row(
    audit: Any, recs: Sequence[Any], history: Mapping[Any, Sequence[Any]], names: Mapping[Any, str], photos: int
) -> dict[str, Any]:
    point = point_of(audit.location)
    return {
        "id": str(audit.id),
        "partnership_id": str(audit.partnership_id),
        "partnership": names.get(audit.partnership_id),
        "neighbourhood_id": str(audit.neighbourhood_id),
        "neighbourhood": names.get(audit.neighbourhood_id),
        "site_name": audit.site_name,
        "longitude": point[0] if point else None,
        "latitude": point[1] if point else None,
        "conducted_on": _day(audit.conducted_on),
        "status": audit.status,
        "trigger": audit.trigger,
        "auditors": "; ".join(audit.auditors),
        "findings": "; ".join(f"{f.get('principle')}:{f.get('rating')}" for f in audit.findings),
        "recommendations": len(recs),
        **{f"recommendations_{s}": sum(1 for r in recs if r.status == s) for s in STEPS},
        **_firsts(recs, history, audit.conducted_on),
        "photos": photos,
        "created_at": audit.created_at.isoformat(),
        "updated_at": audit.updated_at.isoformat(),
    }


def _cell(column: str, value: Any) -> Any:
    if column in TEXT_COLUMNS and isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, header: bool = False) -> str:
    """RFC 4180 CSV (CRLF, quotes where needed) of some rows, with the header line first when asked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(c, row.get(c)) for c in columns])
    return out.getvalue()
