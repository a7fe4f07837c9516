"""The evaluation's defaults cannot manufacture an effect: unequal controls, running windows, missing
feeds, float band edges, small counts and the choice of which test decides (docs/evaluation.md)."""

from __future__ import annotations

import math
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from services.metrics.evaluation.domain import statistics as s
from services.metrics.evaluation.domain.evaluation import AreaCounts, Counts, evaluate
from services.metrics.evaluation.domain.windows import windows

Z = 1.959963984540054
INTERVENTION = date(2024, 3, 1)
OVER = date(2026, 1, 1)  # both 365-day windows are over


def _evaluate(
    target: tuple[int, int],
    control: tuple[int, int],
    *,
    today: date = OVER,
    phi: float | None = None,
    municipality: tuple[int, int] | None = None,
) -> dict[str, Any]:
    counts = AreaCounts(Counts(*target), Counts(*control), municipality=Counts(*municipality) if municipality else None)
    spread = None if phi is None else s.Dispersion(phi, phi, 36, 59, None)
    window = windows(INTERVENTION, 365, today)
    return evaluate(uuid.uuid4(), window, counts, zone="America/Toronto", crs=None, control="test", dispersion=spread)


def test_the_wdd_against_a_control_a_hundred_times_larger_is_not_called_significant() -> None:
    e = _evaluate((100, 100), (10_000, 11_000))
    # The published WDD is kept: (100-100) - (11000-10000) = -1000, z = -1000/sqrt(21200) = -6.87 ...
    assert e["wdd"] == -1000 and e["wdd_z"] == round(-1000 / math.sqrt(21_200), 4)
    # ... but a thousand crimes "prevented" in a place that had a hundred is not an effect.
    assert e["wdd_significant"] is None and "factor of 2" in e["wdd_significant_reason"]
    # Scaled to the target (w = 100/10000): (100-100) - 0.01*(11000-10000) = -10, Var = 200 + 0.0001*21000 = 202.1
    weighted = e["wdd_weighted"]
    assert weighted["value"] == -10.0 and weighted["variance"] == pytest.approx(202.1)
    assert weighted["z"] == round(-10 / math.sqrt(202.1), 4) and weighted["significant"] is False
    # The OR on the same counts: 100*11000/(100*10000) = 1.10, CI about 0.83-1.45: not significant.
    assert e["odds_ratio"] == 1.1 and e["significant"] is False


def test_a_comparable_control_keeps_the_published_wdd_test() -> None:
    e = _evaluate((100, 50), (150, 150))  # control before 1.5 times the target's; z = -50/sqrt(450) = -2.36
    assert e["wdd_significant"] is True and e["wdd_significant_reason"] is None


def test_an_incomplete_after_window_gives_rates_and_no_verdict() -> None:
    # 92 of 365 after-days observed, no true change: 365 -> 92 in the target, 3650 -> 920 in the control.
    today = INTERVENTION + timedelta(days=93)
    e = _evaluate((365, 92), (3650, 920), today=today)
    assert e["complete"] is False and e["after_days_observed"] == 92
    assert e["percent_change"] == -74.79  # the raw counts still look like a fall ...
    assert e["rates_per_day"]["target"] == {"before": 1.0, "after": 1.0}  # ... the rates show none
    assert e["percent_change_per_day"] == 0.0
    assert e["significant"] is None and "still running" in e["significant_reason"]
    assert e["primary"]["significant"] is None
    assert e["wdd_significant"] is None and "still running" in e["wdd_significant_reason"]


def test_a_control_window_without_incidents_is_missing_data_not_an_effect() -> None:
    e = _evaluate((30, 20), (20, 0))
    assert e["insufficient_data"] is True and e["significant"] is None
    assert "insufficient data" in e["significant_reason"] and "after window" in e["significant_reason"]
    assert e["wdd_significant"] is None


def test_a_municipality_without_incidents_in_a_window_is_missing_data() -> None:
    e = _evaluate((30, 0), (50, 0), municipality=(80, 0))
    assert e["insufficient_data"] is True and e["significant"] is None
    assert "municipality" in e["significant_reason"]


def test_a_wdq_of_exactly_minus_one_stays_in_its_band() -> None:
    # (Ba*Cb - Bb*Ca) / (Ra*Cb - Rb*Ca) = (25*7 - 1*91) / (1*7 - 1*91) = 84 / -84 = -1 exactly;
    # the float formula gives -1.0000000000000002 and called it "displacement larger than the direct effect".
    quotient = s.wdq(rb=1, ra=1, cb=7, ca=91, bb=1, ba=25)
    assert quotient.value == -1.0
    assert quotient.interpretation == "some displacement, less than the direct effect"


def test_i2_is_zero_when_q_is_zero() -> None:
    pooled = s.pool([(0.5, 0.1), (0.5, 0.2)])
    assert pooled is not None and pooled.q == 0 and pooled.i2_percent == 0.0


def test_the_primary_outcome_alone_decides_and_the_others_are_secondary() -> None:
    # a=100, b=60, c=1000, d=1000: OR = 1.667, V = 1/100 + 1/60 + 2/1000 = 0.028667.
    # Poisson CI exp(ln 1.667 -/+ 1.96*sqrt(V)) = [1.196, 2.323]: "significant" ...
    e = _evaluate((100, 60), (1000, 1000), phi=3.0)
    assert e["odds_ratio_ci95"][0] > 1
    # ... but with the counts' over-dispersion (phi = 3) the CI is exp(ln OR -/+ 1.96*sqrt(3V)) = [0.938, 2.96].
    v = 1 / 100 + 1 / 60 + 2 / 1000
    low = math.exp(math.log(100 * 1000 / 60 / 1000) - Z * math.sqrt(3 * v))
    assert e["primary"]["outcome"] == "odds_ratio_overdispersion"
    assert e["primary"]["ci95"][0] == round(low, 4) == e["odds_ratio_ci95_overdispersion"][0]
    assert e["primary"]["significant"] is False and e["significant"] is False
    roles = {row["outcome"]: row for row in e["secondary"]}
    assert roles["odds_ratio"]["role"] == "secondary" and roles["odds_ratio"]["significant"] is True
    assert "over-dispersion: variances multiplied by phi = 3" in e["corrections"]


def test_small_counts_widen_the_primary_outcome_to_the_exact_conditional_interval() -> None:
    # a=8, b=2, c=30, d=30: the Wald CI of ln OR is not trusted with a cell of 2.
    e = _evaluate((8, 2), (30, 30))
    exact = s.exact_odds_ratio(8, 2, 30, 30)
    assert exact is not None
    assert e["primary"]["ci95"][1] >= round(exact.ci95[1], 4) and "exact conditional" in e["primary"]["method"]
    assert e["primary"]["p_value"] >= round(exact.mid_p, 4)
    assert any("small counts" in c for c in e["corrections"])
