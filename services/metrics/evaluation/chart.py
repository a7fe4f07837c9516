"""The evaluation as a picture: monthly incidents of target and control around the intervention date.

Drawn on a bare ``Figure`` (the Agg canvas; never pyplot, so no display and no global state),
off the event loop.
Target and control have their own axes because the control is usually many
times larger; shading shows the before and after windows and the implementation
period; the synthetic control (dashed, on the target's axis) is drawn when its fit
is good enough, else the title says why not.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import matplotlib.dates as mdates
from matplotlib.figure import Figure

from services.metrics.evaluation.domain.windows import Period, month_starts


def render(
    evaluation: dict[str, Any],
    target: dict[date, int],
    control: dict[date, int],
    title: str,
    synthetic: tuple[dict[date, float], str | None] = ({}, None),
) -> bytes:
    """The chart as PNG bytes."""
    buffer = io.BytesIO()
    draw(evaluation, target, control, title, synthetic).savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def draw(
    evaluation: dict[str, Any],
    target: dict[date, int],
    control: dict[date, int],
    title: str,
    synthetic: tuple[dict[date, float], str | None] = ({}, None),
) -> Figure:
    """``synthetic``: the synthetic control per month (target scale), or the reason it was refused."""
    before, after = evaluation["before_window"], evaluation["after_window"]
    axis = month_starts(Period(before[0], after[1]))
    middles = [m + timedelta(days=14) for m in axis]  # a month's count is drawn in the middle of its month
    figure = Figure(figsize=(10, 5.2), dpi=100)
    left = figure.add_subplot()
    right = left.twinx()
    left.plot(middles, [target.get(m, 0) for m in axis], marker="o", color="#c0392b", label="target (left axis)")
    right.plot(middles, [control.get(m, 0) for m in axis], marker=".", color="#7f8c8d", label="control (right axis)")
    line, refused = synthetic
    shown = [m for m in axis if m in line]
    if shown:
        left.plot([m + timedelta(days=14) for m in shown], [line[m] for m in shown], linestyle="--",
                  color="#8e44ad", label="synthetic control (left axis)")  # fmt: skip
    left.axvspan(before[0], before[1], color="#3498db", alpha=0.08, label="before window")
    left.axvspan(after[0], after[1], color="#2ecc71", alpha=0.08, label="after window")
    first, last = evaluation["implementation_period"]
    if first == last:
        left.axvline(first, color="black", linestyle="--", label="intervention")
    else:
        left.axvspan(first, last + timedelta(days=1), color="#7f8c8d", alpha=0.25, label="implementation (left out)")
    left.set_ylabel("target incidents per month")
    right.set_ylabel("control incidents per month")
    left.set_ylim(bottom=0)
    right.set_ylim(bottom=0)
    left.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    primary = evaluation["primary"]
    low, high = primary["ci95"]
    status = "" if evaluation["complete"] else " (after window still running: no verdict)"
    left.set_title(
        f"{title}\nPrimary: OR {primary['estimate']} [{low}, {high}] (CI widened for over-dispersion, "
        f"phi {evaluation['dispersion']['phi']:g}), target change {evaluation['percent_change']}%{status}"
        + (f"\nNo synthetic control: {refused}" if refused else "")
    )
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=5, fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure
