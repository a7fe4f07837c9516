"""The report's before/after section: each evaluated audit's counts, odds ratio and what it means, with a chart."""

from __future__ import annotations

from typing import Any

from services.metrics.handlers.reports import PartnershipReport
from services.metrics.report import charts
from services.metrics.report.style import e

NOTHING_YET = (
    "<p>No audit of this partnership had an implemented recommendation by the end of the period, "
    "so there is no before/after comparison yet.</p>"
)


def reading(answer: dict[str, Any]) -> str:
    """The odds ratio in words: above 1 the site did better than the control area."""
    if not any(answer["target"].values()) and not any(answer["control"].values()):
        return "no incidents recorded in either window"
    odds = answer["odds_ratio"]
    if odds is None or odds == 1:
        return "same trend as the control area"
    trend = "better" if odds > 1 else "worse"
    sure = "statistically significant" if answer["significant"] else "not statistically significant"
    return f"{trend} than the control area ({sure})"


def _progress(answer: dict[str, Any]) -> str:
    if answer["complete"]:
        return "complete"
    return f"after window running: {answer['after_days_observed']} of {answer['window_days']} days"


def _row(answer: dict[str, Any]) -> str:
    audit, t, c = answer["audit"], answer["target"], answer["control"]
    low, high = answer["odds_ratio_ci95"]
    change = "—" if answer["percent_change"] is None else f"{answer['percent_change']:+.1f}%"
    return (
        f"<tr data-audit='{audit.id}'><td>{e(audit.site_name)}<br><span class='note'>audit "
        f"{audit.conducted_on.isoformat()}</span></td><td class='nowrap'>{answer['intervention_date'].isoformat()}</td>"
        f"<td data-area='target'>{t['before']} → {t['after']}</td><td>{change}</td>"
        f"<td data-area='control'>{c['before']} → {c['after']}</td>"
        f"<td class='nowrap'>{answer['odds_ratio']} [{low}, {high}]</td><td>{e(reading(answer))}</td>"
        f"<td>{e(_progress(answer))}</td></tr>"
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
        f"<figure>{_chart(r.evaluations)}</figure>"
        "<table class='list'><thead><tr><th>Site</th><th>Intervention</th><th>Target before → after</th>"
        "<th>Change</th><th>Control before → after</th><th>Odds ratio [95% CI]</th><th>Reading</th>"
        f"<th>Windows</th></tr></thead><tbody>{rows}</tbody></table>{skipped_list}</section>"
    )
