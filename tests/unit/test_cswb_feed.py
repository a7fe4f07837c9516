"""The CSWB feed document: indicators tagged by area, small-count suppression, the schema, the CSV twin."""

from __future__ import annotations

import copy
import csv
import io
import uuid
from datetime import date
from typing import Any

import pytest

from services.metrics.cswb.domain.document import Inputs, assemble, digest, encode, to_csv
from services.metrics.cswb.domain.indicators import CATALOGUE, FAMILIES, PERIODS, Area, Indicator, ScopeData, indicators
from services.metrics.cswb.domain.schema import FeedInvalid, feed_schema, validate
from services.metrics.cswb.domain.suppression import MARGIN, suppress

DAY = date(2026, 11, 24)
N1, N2, N3 = (uuid.UUID(int=i) for i in (11, 12, 13))
P1 = uuid.UUID(int=21)


def _by_category(**counts: int) -> dict[str, list[int]]:
    """Recommendation counters with the same figure in every period."""
    sums = {f"recommendations_by_category.{k}": [v, v, v] for k, v in counts.items()}
    sums["recommendations"] = [sum(counts.values())] * 3
    return sums


def _inputs(**neighbourhoods: dict[str, list[int]]) -> Inputs:
    ids = dict(zip(("a", "b", "c"), (N1, N2, N3), strict=False))
    scopes = {ids[name]: ScopeData(sums) for name, sums in neighbourhoods.items()}
    overall: dict[str, list[int]] = {}
    for data in scopes.values():
        for metric, values in data.counters.items():
            overall[metric] = [a + b for a, b in zip(overall.get(metric, [0, 0, 0]), values, strict=True)]
    return Inputs(DAY, "America/Toronto", ScopeData(overall, evaluation={}), scopes, {}, {})


def _row(document: dict[str, Any], block: int, indicator: str, key: str | None = None) -> dict[str, Any]:
    rows = document["neighbourhoods"][block]["indicators"] if block != MARGIN else document["overall"]["indicators"]
    return next(r for r in rows if r["indicator"] == indicator and r.get("key") == key)


def test_every_indicator_is_tagged_with_one_of_the_four_cswb_areas_and_every_area_is_used() -> None:
    rows = indicators(ScopeData(evaluation={}))
    assert {r.indicator for r in rows} <= set(CATALOGUE)
    assert {spec.area for spec in CATALOGUE.values()} == set(Area)
    assert {a.value for a in Area} == {"social_development", "prevention", "risk_intervention", "incident_response"}
    assert all(family(ScopeData()) is not None for family in FAMILIES)


def test_counts_from_1_to_4_in_a_neighbourhood_category_cell_are_suppressed_and_zero_is_published() -> None:
    doc = assemble(_inputs(a=_by_category(lighting=3, signage=20, other=9), b=_by_category(lighting=7, signage=30)))
    lighting = _row(doc, 0, "recommendations_by_category", "lighting")
    assert lighting["values"] == dict.fromkeys(PERIODS) and lighting["suppressed"] == list(PERIODS)
    assert _row(doc, 0, "recommendations_by_category", "maintenance")["values"]["to_date"] == 0
    assert "suppressed" not in _row(doc, 0, "recommendations_by_category", "maintenance")
    assert _row(doc, MARGIN, "recommendations_by_category", "signage")["values"]["to_date"] == 50


def test_a_lone_suppressed_cell_takes_the_smallest_other_cell_of_its_row_and_column_with_it() -> None:
    doc = assemble(_inputs(a=_by_category(lighting=3, signage=20, other=9), b=_by_category(lighting=7, signage=30)))
    hidden = {
        (b, key)
        for b in (0, 1, MARGIN)
        for key in ("lighting", "signage", "other")
        if _row(doc, b, "recommendations_by_category", key)["values"]["to_date"] is None
    }
    # a's row: lighting (3) alone, so a's smallest other non-zero (other, 9) goes too. Column lighting: a alone,
    # so b's 7 goes; b's row: then b's signage (30); column signage: then a's signage (20). Column other: a alone
    # and b has none, so the programme-wide 'other' goes, and with it the smallest programme-wide cell (lighting).
    assert hidden == {(0, "lighting"), (0, "other"), (0, "signage"), (1, "lighting"), (1, "signage")} | {
        (MARGIN, "other"),
        (MARGIN, "lighting"),
    }
    assert _row(doc, MARGIN, "recommendations_by_category", "signage")["values"]["to_date"] == 50
    assert _row(doc, 0, "recommendations", None)["values"]["to_date"] == 32


def test_when_nothing_else_can_hide_it_the_total_is_suppressed() -> None:
    doc = assemble(_inputs(a=_by_category(lighting=2), b=_by_category(lighting=2)))
    assert _row(doc, 0, "recommendations", None)["values"]["to_date"] is None
    assert _row(doc, 1, "recommendations", None)["suppressed"] == list(PERIODS)


def test_no_line_is_left_with_a_single_suppressed_cell() -> None:
    doc = assemble(
        _inputs(
            a=_by_category(lighting=1, signage=6, other=40),
            b=_by_category(signage=2, other=11, landscaping=8),
            c=_by_category(lighting=12, landscaping=3, other=5),
        )
    )
    grid = {
        (b, r.get("key")): r["values"]["to_date"]
        for b, block in enumerate(doc["neighbourhoods"])
        for r in block["indicators"]
        if r["indicator"] == "recommendations_by_category"
    }
    for b in range(3):
        assert sum(v is None for (bb, _), v in grid.items() if bb == b) != 1
    for key in {k for _, k in grid}:
        assert sum(v is None for (_, k), v in grid.items() if k == key) != 1


def test_suppression_leaves_programme_wide_small_counts_alone_unless_they_give_a_cell_away() -> None:
    margin = [Indicator("audits", {"day": 0, "year_to_date": 2, "to_date": 3})]
    (blocks,), out = suppress([[[Indicator("audits", {"day": 0, "year_to_date": 2, "to_date": 3})]]], margin)
    assert out == margin and blocks[0][0].suppressed == ()


def test_the_document_validates_and_rebuilds_byte_identical() -> None:
    inputs = _inputs(a=_by_category(lighting=3, signage=20), b=_by_category(lighting=7))
    first, second = encode(assemble(inputs)), encode(assemble(copy.deepcopy(inputs)))
    assert first == second and digest(first) == digest(second)
    validate(assemble(inputs))


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d["overall"]["indicators"][0].update(area="social_development"),  # audits are prevention
        lambda d: d["overall"]["indicators"][0]["values"].update(day=-1),
        lambda d: d["overall"]["indicators"][0]["values"].update(day=1.5),
        lambda d: d["overall"]["indicators"][0].update(indicator="incident_rows"),
        lambda d: d["neighbourhoods"][0].update(name="Glengarry-Goyeau"),
        lambda d: d.update(feed_date="24/11/2026"),
    ],
    ids=["mis-tagged", "negative", "fractional-count", "unknown-indicator", "a-name", "bad-date"],
)
def test_the_schema_refuses_what_a_feed_must_never_carry(spoil: Any) -> None:
    doc = assemble(_inputs(a=_by_category(lighting=3)))
    spoil(doc)
    with pytest.raises(FeedInvalid):
        validate(doc)


def test_the_schema_describes_the_suppression_rule_and_every_indicator() -> None:
    schema = feed_schema()
    assert "1 to 4" in schema["description"] and "complementary" in schema["description"].lower()
    assert set(schema["x-indicators"]) == set(CATALOGUE)
    assert schema["$defs"]["indicator"]["properties"]["area"]["enum"] == [a.value for a in Area]


def test_the_csv_twin_carries_the_same_figures_with_x_for_suppressed() -> None:
    doc = assemble(_inputs(a=_by_category(lighting=3, signage=20, other=9), b=_by_category(lighting=7)))
    rows = list(csv.DictReader(io.StringIO(to_csv(doc))))
    json_cells = sum(len(r["values"]) for r in doc["overall"]["indicators"]) + sum(
        len(r["values"]) for block in doc["neighbourhoods"] for r in block["indicators"]
    )
    assert len(rows) == json_cells
    lighting = next(r for r in rows if r["scope_id"] == str(N1) and r["key"] == "lighting" and r["period"] == "day")
    assert (lighting["value"], lighting["status"], lighting["area"]) == ("", "x", "prevention")
    signage = next(r for r in rows if r["scope_id"] == str(N1) and r["key"] == "signage" and r["period"] == "to_date")
    assert (signage["value"], signage["status"]) == ("20", "")


def test_the_pooled_evaluation_is_reported_as_of_the_date() -> None:
    summary = {
        "pooled": {"audits": 7, "fixed_effect": {"odds_ratio": 1.4, "odds_ratio_ci95": [1.1, 1.8]}},
        "by_recommendation_category": {"lighting": {"fixed_effect": {"odds_ratio": 1.6}}},
    }
    rows = {(r.indicator, r.key): r for r in indicators(ScopeData(evaluation=summary))}
    assert rows[("pooled_audits", None)].values == {"to_date": 7}
    assert rows[("pooled_odds_ratio_ci95_high", None)].values == {"to_date": 1.8}
    assert rows[("pooled_odds_ratio_by_category", "lighting")].spec.area is Area.prevention
    assert rows[("pooled_random_effects_odds_ratio", None)].values == {"to_date": None}
