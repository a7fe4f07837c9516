"""Harm-weighted WDD: weights multiply each category's WDD, squared weights its variance."""

from __future__ import annotations

import math

import pytest

from services.metrics.evaluation.domain.estimators.harm import combine, harm_wdd, shipped_csi_weights
from services.metrics.evaluation.domain.statistics import wdd


def test_two_categories_worked_by_hand() -> None:
    # assault (w 2): (6 - 10) - (22 - 20) = -6, Var 10 + 6 + 20 + 22 = 58
    # theft (w 1):  (20 - 30) - (48 - 50) = -8, Var 30 + 20 + 50 + 48 = 148
    # H = 2(-6) + 1(-8) = -20; Var = 4(58) + 1(148) = 380; z = -20/sqrt(380) = -1.026
    harm = harm_wdd(
        {"assault": 10, "theft": 30, "noise": 4}, {"assault": 6, "theft": 20},
        {"assault": 20, "theft": 50}, {"assault": 22, "theft": 48}, {"assault": 2, "theft": 1},
    )  # fmt: skip
    assert harm.value == -20 and harm.variance == 380
    assert harm.z == pytest.approx(-20 / math.sqrt(380))
    assert harm.unmapped == ("noise",) and harm.categories == ("assault", "theft")
    assert harm.ci95 == pytest.approx((-20 - 1.959964 * math.sqrt(380), -20 + 1.959964 * math.sqrt(380)))


def test_one_category_of_weight_one_is_the_plain_wdd() -> None:
    harm = harm_wdd({"x": 40}, {"x": 25}, {"x": 100}, {"x": 95}, {"x": 1})
    plain = wdd(40, 25, 100, 95)
    assert (harm.value, harm.variance, harm.z) == (plain.value, plain.variance, plain.z)


def test_combine_like_ptools_wdd_harm() -> None:
    assert combine([(-5.0, 10.0, 3.0), (2.0, 4.0, 0.5)]) == (-15 + 1, 90 + 1)


def test_nothing_weighted_is_a_refusal_naming_the_categories() -> None:
    harm = harm_wdd({"mischief": 3}, {"mischief": 1}, {"mischief": 9}, {"mischief": 9}, {})
    assert harm.value is None and harm.reason == "no incident category has a severity weight"
    assert harm.unmapped == ("mischief",)


def test_the_shipped_weights_name_their_source_and_never_guess() -> None:
    csi = shipped_csi_weights()
    assert csi.year == 2009 and "Statistics Canada" in csi.source
    assert csi.weights["homicide"] == 7042 and csi.weights["disturbing_the_peace"] == 9
    assert csi.weights["break_and_enter"] == 187 and csi.weights["theft_from_vehicle"] == 37
    # a category whose weight is not transcribed yet is pending, so harm_wdd lists it as unmapped
    assert "drug_offence" in csi.pending and "drug_offence" not in csi.weights
