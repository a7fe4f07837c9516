from __future__ import annotations

from datetime import date
from typing import Any

from services.metrics.evaluation import chart
from services.metrics.evaluation.domain.windows import Period, month_starts

EVALUATION: dict[str, Any] = {
    "before_window": [date(2024, 3, 1), date(2025, 2, 9)],
    "after_window": [date(2025, 3, 21), date(2026, 3, 1)],
    "implementation_period": [date(2025, 2, 10), date(2025, 3, 20)],
    "primary": {"estimate": 1.4, "ci95": [0.8, 2.5]},
    "complete": True,
    "dispersion": {"phi": 1.8},
    "percent_change": -28.4,
}
MONTHS = month_starts(Period(date(2024, 3, 1), date(2026, 3, 1)))


def _labelled(figure: Any) -> dict[str, Any]:
    return {line.get_label(): line for axes in figure.axes for line in axes.get_lines()}


def test_the_chart_draws_the_synthetic_control_on_the_targets_axis() -> None:
    line = {m: 10.0 + i / 10 for i, m in enumerate(MONTHS)}
    figure = chart.draw(EVALUATION, {m: 9 for m in MONTHS}, {m: 90 for m in MONTHS}, "Laneway", (line, None))
    drawn = _labelled(figure)["synthetic control (left axis)"]
    assert drawn.axes is figure.axes[0]  # the target's axis, on the target's scale
    assert list(drawn.get_ydata()) == [line[m] for m in MONTHS]
    assert "No synthetic control" not in figure.axes[0].get_title()
    shaded = [p.get_label() for p in figure.axes[0].patches]
    assert "implementation (left out)" in shaded


def test_a_refused_synthetic_control_is_said_on_the_chart() -> None:
    reason = "the target is outside the donors' convex hull"
    figure = chart.draw(EVALUATION, {m: 9 for m in MONTHS}, {m: 90 for m in MONTHS}, "Laneway", ({}, reason))
    assert "synthetic control (left axis)" not in _labelled(figure)
    assert f"No synthetic control: {reason}" in figure.axes[0].get_title()
    assert chart.render(EVALUATION, {}, {}, "Laneway", ({}, reason)).startswith(b"\x89PNG")
