"""The report's before/after section: each evaluated audit's counts, its primary outcome and what it means,
how it was computed and corrected, and whether its after window is complete; with a chart."""

from __future__ import annotations

from typing import Any

from services.metrics.report import charts
from services.metrics.report.handlers import PartnershipReport
from services.metrics.report.style import e

NOTHING_YET = (
    "<p>No audit of this partnership had an implemented recommendation by the end of the period, "
    "so there is no before/after comparison yet.</p>"
)


def reading(answer: dict[str, Any]) -> str:
    """The primary outcome in words: an odds ratio above 1 means the site did better than the control area."""
    if not any(answer["target"].values()) and not any(answer["control"].values()):
        return "no incidents recorded in either window"
    if answer.get("insufficient_data"):
        return "insufficient data: a whole window without incidents in the control area or municipality"
    odds = answer["primary"]["estimate"]
    if odds == 1:
        return "same trend as the control area"
    trend = "better" if odds > 1 else "worse"
    if answer["significant"] is None:
        return f"{trend} than the control area so far (no verdict until the after window is complete)"
    sure = "statistically significant" if answer["significant"] else "not statistically significant"
    return f"{trend} than the control area ({sure})"


def progress(answer: dict[str, Any]) -> str:
    if answer["complete"]:
        return "complete"
    return f"after window running: {answer['after_days_observed']} of {answer['window_days']} days"


def how(answer: dict[str, Any]) -> str:
    """The primary outcome's method and corrections, short enough for a table cell."""
    phi = answer["dispersion"]["phi"]
    parts = [f"over-dispersion phi {phi:g}" if phi > 1 else "no over-dispersion found (phi 1)"]
    if any("small counts" in c for c in answer["corrections"]):
        parts.append("small counts: exact interval")
    if answer["zero_cell_correction"]:
        parts.append("zero count: 0.5 added")
    if answer["implementation_period"][0] != answer["implementation_period"][1]:
        first, last = answer["implementation_period"]
        parts.append(f"implementation {first.isoformat()} to {last.isoformat()} left out")
    return "; ".join(parts)


def primary_text(answer: dict[str, Any]) -> str:
    low, high = answer["primary"]["ci95"]
    return f"{answer['primary']['estimate']} [{low}, {high}]"


def change_text(answer: dict[str, Any]) -> str:
    return "—" if answer["percent_change"] is None else f"{answer['percent_change']:+.1f}%"


def _row(answer: dict[str, Any]) -> str:
    audit, t, c = answer["audit"], answer["target"], answer["control"]
    change = change_text(answer)
    return (
        f"<tr data-audit='{audit.id}'><td>{e(audit.site_name)}<br><span class='note'>audit "
        f"{audit.conducted_on.isoformat()}</span></td><td class='nowrap'>{answer['intervention_date'].isoformat()}</td>"
        f"<td data-area='target'>{t['before']} → {t['after']}</td><td>{change}</td>"
        f"<td data-area='control'>{c['before']} → {c['after']}</td>"
        f"<td class='nowrap' data-area='primary'>{primary_text(answer)}</td>"
        f"<td>{e(reading(answer))}<br><span class='note' data-area='method'>{e(how(answer))}</span></td>"
        f"<td data-area='complete'>{e(progress(answer))}</td></tr>"
    )


def _chart(evaluated: list[dict[str, Any]]) -> str:
    days = evaluated[0]["window_days"]
    rows = [
        (
            str(a["audit"].id),
            f"{a['audit'].site_name} ({a['audit'].conducted_on})",
            a["target"]["before"],
            a["target"]["after"],
        )
        for a in evaluated
    ]
    return charts.paired_chart(
        "Incidents at each audited site before and after the first implemented recommendation",
        rows,
        (f"{days} days before", f"{days} days after"),
        ("#c05621", "#2f855a"),
    )


def section(r: PartnershipReport) -> str:
    skipped = "".join(f"<li>{e(s['audit'].site_name)}: {e(s['reason'])}</li>" for s in r.not_evaluated)
    skipped_list = f"<p>Not evaluated:</p><ul>{skipped}</ul>" if skipped else ""
    if not r.evaluations:
        return f"<section id='evaluations'><h2>Before and after</h2>{NOTHING_YET}{skipped_list}</section>"
    rows = "".join(_row(a) for a in r.evaluations)
    return (
        "<section id='evaluations'><h2>Before and after</h2>"
        "<p>Crime incidents in each audited neighbourhood over the year before and the year after its first "
        "implemented recommendation, against the other neighbourhoods of the municipality (the control). "
        "An odds ratio above 1 means the site did better than the control.</p>"
        "<p class='note'>Primary outcome: the odds ratio of Welsh &amp; Farrington with its 95% confidence "
        "interval widened for the over-dispersion of the area's monthly counts (and, with small counts, to the "
        "exact conditional interval); it alone decides significance. Control: the other neighbourhoods of the "
        "municipality with no recommendation implemented in the windows. No verdict is given while an after "
        "window is running or when a window has no incidents at all (a missing feed).</p>"
        f"<figure>{_chart(r.evaluations)}</figure>"
        "<table class='list'><thead><tr><th>Site</th><th>Intervention</th><th>Target before → after</th>"
        "<th>Change</th><th>Control before → after</th><th>Primary outcome: odds ratio [95% CI]</th>"
        "<th>Reading, method and corrections</th>"
        f"<th>Windows</th></tr></thead><tbody>{rows}</tbody></table>{skipped_list}</section>"
    )
