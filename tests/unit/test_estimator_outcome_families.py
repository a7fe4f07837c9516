"""Outcome families chosen by the versioned category map."""

from __future__ import annotations

from datetime import date

import pytest

from services.metrics.evaluation.domain.estimators.outcome_families import CategoryMap, select, shipped_category_map

DEMO = ["assault", "break_and_enter", "drug_offence", "mischief", "robbery", "theft_from_vehicle"]
"""The categories the demo data set generates."""


def test_every_demo_category_has_a_family() -> None:
    cmap = shipped_category_map()
    assert select(cmap, "all", DEMO).unmapped == ()


def test_substance_related_counts_drug_offences_and_overdose_calls() -> None:
    cmap = shipped_category_map()
    chosen = select(cmap, "substance", [*DEMO, "overdose_call", "noise_complaint"])
    assert chosen.categories == ("drug_offence", "overdose_call")
    assert chosen.unmapped == ("noise_complaint",)
    assert chosen.method == "category map version 1 (2026-11-30)"


def test_property_violent_and_all() -> None:
    cmap = shipped_category_map()
    assert select(cmap, "property", DEMO).categories == ("break_and_enter", "mischief", "theft_from_vehicle")
    assert select(cmap, "violent", DEMO).categories == ("assault", "robbery")
    everything = select(cmap, "all", [*DEMO, "noise_complaint"])
    assert len(everything.categories) == 7 and everything.unmapped == ("noise_complaint",)


def test_an_unknown_family_or_an_empty_one_says_why() -> None:
    cmap = shipped_category_map()
    assert select(cmap, "traffic", DEMO).reason == "unknown family; one of all, property, substance, violent"
    assert select(cmap, "substance", ["assault"]).reason == "no incident category of the data belongs to 'substance'"


def test_a_stored_row_round_trips_and_is_checked() -> None:
    cmap = shipped_category_map()
    again = CategoryMap.from_row(cmap.to_row())
    assert again == cmap
    edited = {**cmap.to_row(), "version": 2, "effective_from": "2027-01-01",
              "categories": {"Drug Offence": ["substance"], "loitering": ["substance"]}}  # fmt: skip
    v2 = CategoryMap.from_row(edited)
    assert v2.effective_from == date(2027, 1, 1)
    assert select(v2, "substance", ["drug_offence", "loitering"]).categories == ("drug_offence", "loitering")
    with pytest.raises(ValueError, match="undeclared families: nuisance"):
        CategoryMap.from_row({**edited, "categories": {"loitering": ["nuisance"]}})
    with pytest.raises(ValueError, match="cannot be declared"):
        CategoryMap.from_row({**edited, "families": {"all": "everything"}})
