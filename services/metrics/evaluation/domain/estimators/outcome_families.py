"""Outcome families: which incident categories an evaluation of "property", "violent" or "substance" crime counts.

The category map is data, one version per row: ``{"version", "effective_from", "families": {name: label},
"categories": {category: [family, ...]}}``. The shipped version lives in ``category_map.json``; a stored,
admin-edited version has the same shape (``CategoryMap.from_row`` / ``to_row``), so an answer can always
name the version that chose its categories. ``"all"`` is every category, whether the map lists it or not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any

from services.metrics.crime.domain.incidents import normalize_category

ALL = "all"


@dataclass(frozen=True)
class CategoryMap:
    version: int
    effective_from: date
    families: Mapping[str, str]
    """Family name -> label shown to people."""
    categories: Mapping[str, tuple[str, ...]]
    note: str = ""
    created_at: datetime | None = None
    """When an admin stored it; None for the shipped version."""
    created_by: str | None = None
    """The id of the key that stored it."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any], **stored: Any) -> CategoryMap:
        families = dict(row["families"])
        if ALL in families:
            raise ValueError(f"'{ALL}' is every category; it cannot be declared as a family")
        categories = {normalize_category(c): tuple(fs) for c, fs in row["categories"].items()}
        undeclared = sorted({f for fs in categories.values() for f in fs} - families.keys())
        if undeclared:
            raise ValueError(f"categories name undeclared families: {', '.join(undeclared)}")
        return cls(int(row["version"]), date.fromisoformat(row["effective_from"]), families, categories,
                   row.get("note", ""), **stored)  # fmt: skip

    def to_row(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "note": self.note,
            "families": dict(self.families),
            "categories": {c: list(fs) for c, fs in self.categories.items()},
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


def shipped_category_map() -> CategoryMap:
    text = resources.files(__package__).joinpath("category_map.json").read_text(encoding="utf-8")
    return CategoryMap.from_row(json.loads(text))


@dataclass(frozen=True)
class FamilySelection:
    family: str
    map_version: int
    categories: tuple[str, ...]
    """The categories counted, of those the data has."""
    unmapped: tuple[str, ...]
    """Categories in the data that the map does not place in any family: counted under "all" only."""
    method: str
    reason: str | None


def select(category_map: CategoryMap, family: str, present: Iterable[str]) -> FamilySelection:
    """The categories of ``present`` that ``family`` counts, and those the map does not know."""
    present = sorted(set(present))
    unmapped = tuple(c for c in present if not category_map.categories.get(c))
    method = f"category map version {category_map.version} ({category_map.effective_from.isoformat()})"
    if family == ALL:
        return FamilySelection(family, category_map.version, tuple(present), unmapped, method, None)
    if family not in category_map.families:
        known = ", ".join([ALL, *sorted(category_map.families)])
        return FamilySelection(family, category_map.version, (), unmapped, method, f"unknown family; one of {known}")
    chosen = tuple(c for c in present if family in category_map.categories.get(c, ()))
    reason = None if chosen else f"no incident category of the data belongs to '{family}'"
    return FamilySelection(family, category_map.version, chosen, unmapped, method, reason)
