"""Which materials reached each agency's staff, and which did not.

The seed asks that every local enforcement agency give its frontline staff
the resource materials; this report shows the gaps.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from services.events.materials.domain.agencies import key, spelled


@dataclass(frozen=True)
class Delivered:
    agency: str
    material_id: uuid.UUID
    language: str
    copies: int
    distributed_on: date


@dataclass
class Reached:
    material_id: uuid.UUID
    slug: str
    copies: int = 0
    languages: set[str] = field(default_factory=set)
    last_distributed_on: date | None = None


@dataclass
class AgencyCoverage:
    agency: str
    reached: list[Reached]
    missing: list[tuple[uuid.UUID, str]]

    @property
    def complete(self) -> bool:
        return not self.missing


def coverage(
    materials: Iterable[tuple[uuid.UUID, str]], delivered: Iterable[Delivered], agencies: Iterable[str] = ()
) -> list[AgencyCoverage]:
    """One row per agency (named in a distribution or asked about), by name; agencies compare case-blind."""
    catalogue = dict(materials)
    names: dict[str, str] = {}
    reached: dict[str, dict[uuid.UUID, Reached]] = {}
    for agency in agencies:
        names.setdefault(key(agency), spelled(agency))
    for d in delivered:
        known = key(d.agency)
        names.setdefault(known, d.agency)
        if d.material_id not in catalogue:
            continue
        row = reached.setdefault(known, {}).setdefault(d.material_id, Reached(d.material_id, catalogue[d.material_id]))
        row.copies += d.copies
        row.languages.add(d.language)
        row.last_distributed_on = max(filter(None, (row.last_distributed_on, d.distributed_on)))
    rows = []
    for known, name in sorted(names.items()):
        got = reached.get(known, {})
        missing = [(mid, slug) for mid, slug in sorted(catalogue.items(), key=lambda m: m[1]) if mid not in got]
        rows.append(AgencyCoverage(name, sorted(got.values(), key=lambda r: r.slug), missing))
    return rows
