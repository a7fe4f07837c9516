"""The feed document for one date, its exact bytes, and its CSV twin.

Everything in it is a function of the projections as of the date, in a fixed
order, with no build time or host in it: building a date twice from the same
data gives the same bytes (and the same SHA-256). Aggregates only: counts and
pooled statistics by scope, never an incident, a person or a name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from services.metrics.cswb.domain.indicators import PERIODS, Indicator, ScopeData, evaluation_note, indicators
from services.metrics.cswb.domain.suppression import suppress

SCHEMA_ID = "https://cpted.example.org/cswb/feed-v1.schema.json"
SCHEMA_VERSION = 1
CSV_COLUMNS = ("feed_date", "scope", "scope_id", "indicator", "key", "area", "unit", "period", "value", "status")
SUPPRESSED = "x"
"""The status of a suppressed value in the CSV twin (the symbol Statistics Canada uses)."""


@dataclass(frozen=True)
class Inputs:
    """What the projections held for the date: by scope, each scope's data."""

    feed_date: date
    timezone: str
    overall: ScopeData
    neighbourhoods: Mapping[uuid.UUID, ScopeData]
    partnerships: Mapping[uuid.UUID, ScopeData]
    partnership_neighbourhoods: Mapping[uuid.UUID, Sequence[uuid.UUID]]


def _periods(day: date) -> dict[str, dict[str, str | None]]:
    first = {"day": day.isoformat(), "year_to_date": day.replace(month=1, day=1).isoformat(), "to_date": None}
    return {p: {"from": first[p], "to": day.isoformat()} for p in PERIODS}


def _rows(block: Sequence[Indicator]) -> list[dict[str, Any]]:
    return [row.as_dict() for row in block]


def assemble(inputs: Inputs) -> dict[str, Any]:
    n_ids = sorted(inputs.neighbourhoods)
    p_ids = sorted(inputs.partnerships)
    (by_n, by_p), overall = suppress(
        [
            [indicators(inputs.neighbourhoods[i]) for i in n_ids],
            [indicators(inputs.partnerships[i]) for i in p_ids],
        ],
        indicators(inputs.overall),
    )
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "feed_date": inputs.feed_date.isoformat(),
        "timezone": inputs.timezone,
        "periods": _periods(inputs.feed_date),
        "evaluation": evaluation_note(inputs.overall.evaluation),
        "overall": {"indicators": _rows(overall)},
        "neighbourhoods": [{"id": str(i), "indicators": _rows(rows)} for i, rows in zip(n_ids, by_n, strict=True)],
        "partnerships": [
            {
                "id": str(i),
                "neighbourhood_ids": sorted(str(n) for n in inputs.partnership_neighbourhoods.get(i, ())),
                "indicators": _rows(rows),
            }
            for i, rows in zip(p_ids, by_p, strict=True)
        ],
    }


def encode(document: Mapping[str, Any]) -> bytes:
    return orjson.dumps(document)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _csv_lines(feed_date: str, scope: str, scope_id: str, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    lines = []
    for row in rows:
        suppressed = set(row.get("suppressed", ()))
        for period, value in row["values"].items():
            status = SUPPRESSED if period in suppressed else ""
            shown = "" if value is None else value
            head = [feed_date, scope, scope_id, row["indicator"], row.get("key", ""), row["area"], row["unit"]]
            lines.append([*head, period, shown, status])
    return lines


def to_csv(document: Mapping[str, Any]) -> str:
    """One line per scope, indicator, key and period; the same figures as the JSON document."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    day = document["feed_date"]
    writer.writerows(_csv_lines(day, "overall", "", document["overall"]["indicators"]))
    for scope, blocks in (("neighbourhood", document["neighbourhoods"]), ("partnership", document["partnerships"])):
        for block in blocks:
            writer.writerows(_csv_lines(day, scope, block["id"], block["indicators"]))
    return out.getvalue()
