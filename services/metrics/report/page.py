"""The partnership report as one self-contained HTML file: inline CSS, inline SVG, no script, print-ready.

Figures are in elements with ``data-metric``/``data-period`` (and the charts'
``data-key``/``data-value``), so a program can check them against the API.
"""

from __future__ import annotations

from typing import Any

from services.metrics.report import before_after, charts
from services.metrics.report.handlers import Outstanding, PartnershipReport
from services.metrics.report.style import CSS, e, words
from shared.contracts.vocabulary import RecommendationCategory, RecommendationStatus

OUTPUTS = [
    ("audits", "CPTED audits conducted"),
    ("recommendations", "Recommendations made in these audits"),
    ("recommendations_implemented", "Recommendations implemented"),
    ("special_events", "Special events within the partnership"),
    ("events", "Community events attended"),
    ("officers_attending", "Officer attendances at events"),
    ("new_connections", "New community connections"),
    ("audit_requests", "Audit requests received"),
]
SHORT = {
    "audits": "Audits",
    "recommendations": "Recommendations",
    "recommendations_implemented": "Implemented",
    "special_events": "Special events",
}


def day(value: Any) -> str:
    return f"{value.day} {value:%B %Y}"


def change(now: int, before: int) -> str:
    if now == before:
        return "no change"
    sign = "+" if now > before else "\N{MINUS SIGN}"
    percent = f" ({sign}{abs(now - before) / before:.0%})" if before else ""
    return f"{sign}{abs(now - before):,}{percent}"


def _header(r: PartnershipReport) -> str:
    p = r.partnership
    places = ", ".join(n.name for n in r.neighbourhoods) or "—"
    facts = [
        ("Police service", p.police_service),
        ("Neighbourhoods", places),
        ("Safety committees", ", ".join(p.safety_committees) or "—"),
        ("Business improvement areas", ", ".join(p.business_improvement_areas) or "—"),
        ("Formalized", p.formalized_on.isoformat() if p.formalized_on else "—"),
    ]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    return (
        f"<header><p class='kicker'>CPTED partnership report · {e(r.period.label)}</p>"
        f"<h1>{e(p.name)}</h1><p class='dates'>{day(r.period.first)} &ndash; {day(r.period.last)}, "
        f"compared with {e(r.period.previous().label)}</p><table class='facts'>{rows}</table></header>"
    )


def _outputs(r: PartnershipReport) -> str:
    this, last = r.period.label, r.period.previous().label
    rows = "".join(
        f"<tr data-metric='{key}'><th>{e(label)}</th><td data-period='current'>{r.current[key]:,}</td>"
        f"<td data-period='previous'>{r.previous[key]:,}</td><td>{change(r.current[key], r.previous[key])}</td></tr>"
        for key, label in OUTPUTS
    )
    chart = charts.paired_chart(
        f"Measurable outputs, {this} and {last}",
        [(key, label, r.current[key], r.previous[key]) for key, label in SHORT.items()],
        (this, last),
    )
    return (
        "<section id='outputs'><h2>Measurable outputs</h2>"
        f"<table class='figures'><thead><tr><th></th><th>{e(this)}</th><th>{e(last)}</th><th>Change</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>{chart}</section>"
    )


def _recommendations(r: PartnershipReport) -> str:
    by_status = r.current["recommendations_by_status"]
    by_category = r.current["recommendations_by_category"]
    status = charts.bar_chart(
        "Recommendations by status", [(s.value, words(s.value), by_status[s.value]) for s in RecommendationStatus]
    )
    ranked = sorted(RecommendationCategory, key=lambda c: (-by_category[c.value], c.value))
    category = charts.bar_chart(
        "Recommendations by category",
        [(c.value, words(c.value), by_category[c.value]) for c in ranked],
        colour="#2f855a",
    )
    return (
        f"<section id='recommendations'><h2>Recommendations of the audits of {e(r.period.label)}</h2>"
        "<p>Each recommendation as it stands today, counted with the audit it came from.</p>"
        f"<div class='charts'><figure id='by-status'><figcaption>By status</figcaption>{status}</figure>"
        f"<figure id='by-category'><figcaption>By category</figcaption>{category}</figure></div></section>"
    )


def _outstanding_row(o: Outstanding, today: Any) -> str:
    rec = o.recommendation
    due = rec.expected_on.isoformat() if rec.expected_on else "not set"
    late = " <span class='late'>overdue</span>" if o.overdue(today) else ""
    return (
        f"<tr data-recommendation='{rec.id}'><td class='nowrap'>{due}{late}</td><td>{e(o.audit.site_name)}</td>"
        f"<td>{e(words(rec.category))}</td><td>{e(rec.description)}</td><td>{e(rec.priority)}</td>"
        f"<td>{e(words(rec.status))}</td><td>{e(rec.responsible_party or '—')}</td>"
        f"<td>{e(rec.status_note or '')}</td></tr>"
    )


def _outstanding(r: PartnershipReport) -> str:
    if not r.outstanding:
        body = "<p>No recommendation is outstanding.</p>"
    else:
        rows = "".join(_outstanding_row(o, r.today) for o in r.outstanding)
        body = (
            "<table class='list'><thead><tr><th>Expected</th><th>Site</th><th>Category</th><th>Recommendation</th>"
            f"<th>Priority</th><th>Status</th><th>Responsible</th><th>Note</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    overdue = sum(1 for o in r.outstanding if o.overdue(r.today))
    return (
        f"<section id='outstanding'><h2>Outstanding recommendations ({len(r.outstanding)}, {overdue} overdue)</h2>"
        f"<p>Every open recommendation of the partnership's audits on {r.today.isoformat()}, "
        f"soonest expected first.</p>{body}</section>"
    )


def _footer(r: PartnershipReport) -> str:
    as_of = r.as_of.isoformat(timespec="minutes") if r.as_of else "no event applied yet"
    behind = f" {r.lag_events} published changes were not applied yet." if r.lag_events else ""
    return (
        f"<footer><p>Figures as of {e(as_of)} (UTC); report made on {r.today.isoformat()} (local date).{e(behind)} "
        "Audits count by the day conducted, recommendations by their audit's day, implementations by the day "
        "implemented, events by their local start day (America/Toronto), as in the platform's running totals. "
        "Before/after definitions: odds ratio of Welsh &amp; Farrington, with the other neighbourhoods of the "
        "municipality as control.</p></footer>"
    )


def render(r: PartnershipReport) -> str:
    title = f"{r.partnership.name}: CPTED partnership report {r.period.label}"
    parts = [_header(r), _outputs(r), _recommendations(r), before_after.section(r), _outstanding(r), _footer(r)]
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>"
    )
