"""The partnership report as a PDF: the same figures as the HTML page, from the same handler output.

Tables carry every number as text (so it can be copied and checked), and the charts are
PNG pictures beside them. The document is dated by the figures' own time (the last event
applied), not by when it was asked for, so the same figures give the same file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any

from fpdf.fonts import FontFace

from services.metrics.report import bars
from services.metrics.report.before_after import NOTHING_YET, change_text, how, primary_text, progress, reading
from services.metrics.report.handlers import Outstanding, PartnershipReport
from services.metrics.report.page import OUTPUTS, SHORT, change, day
from services.metrics.report.style import words
from shared.contracts.vocabulary import RecommendationCategory, RecommendationStatus
from shared.web.pdf import FAMILY, Document

BLUE, GREY, RED = (43, 108, 176), (74, 85, 104), (197, 48, 48)
CHART_W = 100  # mm; the charts are drawn at the size they are shown, so their text is the page's small print
WIDE_W = 144
HEAD = FontFace(emphasis="BOLD", fill_color=(237, 242, 247))


def made(r: PartnershipReport) -> datetime:
    return r.as_of or datetime.combine(r.today, time(), UTC)


def _section(doc: Document, title: str, room: float = 40, size: float = 13) -> None:
    """A heading kept with the first ``room`` millimetres of what follows it."""
    if doc.will_page_break(room):
        doc.add_page()
    doc.ln(3)
    doc.set_font(FAMILY, "B", size)
    doc.set_text_color(26, 32, 44)
    doc.cell(0, size * 0.55, title, new_x="LMARGIN", new_y="NEXT")
    doc.set_draw_color(203, 213, 224)
    doc.line(doc.l_margin, doc.get_y(), doc.l_margin + doc.epw, doc.get_y())
    doc.ln(2)


def _table(
    doc: Document,
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    *,
    size: float = 9,
    align: Sequence[str] | None = None,
    width: float | None = None,
    at: str = "LEFT",
) -> None:
    doc.set_font(FAMILY, "", size)
    with doc.table(
        col_widths=tuple(widths),
        width=width or doc.epw,
        align=at,
        headings_style=HEAD,
        borders_layout="HORIZONTAL_LINES",
        line_height=size * 0.5,
        padding=(1, 1.5),
    ) as table:
        for values in rows:
            row = table.row()
            for i, value in enumerate(values):
                row.cell(value, align=align[i] if align else "LEFT")


def _header(doc: Document, r: PartnershipReport) -> None:
    p = r.partnership
    doc.set_font(FAMILY, "B", 9)
    doc.set_text_color(*BLUE)
    doc.cell(0, 5, f"CPTED PARTNERSHIP REPORT · {r.period.label}", new_x="LMARGIN", new_y="NEXT")
    doc.set_text_color(26, 32, 44)
    doc.heading(p.name, 20)
    doc.paragraph(
        f"{day(r.period.first)} \N{EN DASH} {day(r.period.last)}, compared with {r.period.previous().label}", 10.5, GREY
    )
    facts = [
        ("Police service", p.police_service),
        ("Neighbourhoods", ", ".join(n.name for n in r.neighbourhoods) or "—"),
        ("Safety committees", ", ".join(p.safety_committees) or "—"),
        ("Business improvement areas", ", ".join(p.business_improvement_areas) or "—"),
        ("Formalized", p.formalized_on.isoformat() if p.formalized_on else "—"),
    ]
    doc.set_font(FAMILY, "", 9.5)
    for key, value in facts:
        doc.set_text_color(*GREY)
        doc.cell(52, 5, key)
        doc.set_text_color(26, 32, 44)
        doc.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    doc.set_draw_color(*BLUE)
    doc.set_line_width(0.8)
    doc.line(doc.l_margin, doc.get_y() + 2, doc.l_margin + doc.epw, doc.get_y() + 2)
    doc.set_line_width(0.2)
    doc.ln(4)


def _outputs(doc: Document, r: PartnershipReport) -> None:
    this, last = r.period.label, r.period.previous().label
    _section(doc, "Measurable outputs", 90)
    rows = [("", this, last, "Change")] + [
        (label, f"{r.current[key]:,}", f"{r.previous[key]:,}", change(r.current[key], r.previous[key]))
        for key, label in OUTPUTS
    ]
    _table(doc, rows, (88, 26, 26, 40), size=9.5, align=("LEFT", "RIGHT", "RIGHT", "RIGHT"))
    doc.ln(3)
    png = bars.paired(
        [(label, r.current[key], r.previous[key]) for key, label in SHORT.items()], (this, last), width=WIDE_W / 25.4
    )
    doc.image(png, w=WIDE_W, x=doc.l_margin)


def _beside(doc: Document, title: str, png: bytes, rows: list[tuple[str, str]]) -> None:
    """A chart on the left and its figures as a table on the right."""
    _section(doc, title, 12 + 6 * len(rows), size=11)
    top = doc.get_y()
    doc.image(png, x=doc.l_margin, y=top, w=CHART_W)
    below_chart = doc.get_y()
    doc.set_y(top)
    _table(doc, [("", "Count"), *rows], (50, 18), align=("LEFT", "RIGHT"), width=68, at="RIGHT")
    doc.set_y(max(below_chart, doc.get_y()) + 2)


def _recommendations(doc: Document, r: PartnershipReport) -> None:
    by_status = r.current["recommendations_by_status"]
    by_category = r.current["recommendations_by_category"]
    doc.ln(2)
    _section(doc, f"Recommendations of the audits of {r.period.label}", 85)  # with the first chart
    doc.paragraph("Each recommendation as it stands today, counted with the audit it came from.", 9.5, GREY)
    statuses = [(words(s.value), by_status[s.value]) for s in RecommendationStatus]
    _beside(doc, "By status", bars.bars(statuses, width=CHART_W / 25.4), [(label, f"{n:,}") for label, n in statuses])
    ranked = sorted(RecommendationCategory, key=lambda c: (-by_category[c.value], c.value))
    categories = [(words(c.value), by_category[c.value]) for c in ranked]
    _beside(
        doc,
        "By category",
        bars.bars(categories, "#2f855a", width=CHART_W / 25.4),
        [(label, f"{n:,}") for label, n in categories],
    )


def _evaluation_row(answer: dict[str, Any]) -> tuple[str, ...]:
    audit, t, c = answer["audit"], answer["target"], answer["control"]
    return (
        f"{audit.site_name}\naudit {audit.conducted_on.isoformat()}",
        answer["intervention_date"].isoformat(),
        f"{t['before']} → {t['after']}",
        change_text(answer),
        f"{c['before']} → {c['after']}",
        primary_text(answer),
        f"{reading(answer)}\n{how(answer)}\n{progress(answer)}",
    )


def _before_after(doc: Document, r: PartnershipReport) -> None:
    _section(doc, "Before and after", 75 + 14 * len(r.evaluations))  # the chart with the head of its table
    if not r.evaluations:
        doc.paragraph(NOTHING_YET.removeprefix("<p>").removesuffix("</p>"), 9.5)
    else:
        doc.paragraph(
            "Crime incidents in each audited neighbourhood over the year before and the year after its first "
            "implemented recommendation, against the neighbourhoods of the municipality with no recommendation "
            "implemented in either window (the control). "
            "The primary outcome is the odds ratio with its interval widened for over-dispersion; above 1 means "
            "the site did better than the control.",
            9.5,
        )
        days = r.evaluations[0]["window_days"]
        rows = [
            (f"{a['audit'].site_name} ({a['audit'].conducted_on})", a["target"]["before"], a["target"]["after"])
            for a in r.evaluations
        ]
        png = bars.paired(
            rows, (f"{days} days before", f"{days} days after"), ("#c05621", "#2f855a"), width=WIDE_W / 25.4
        )
        doc.image(png, w=WIDE_W, x=doc.l_margin)
        doc.ln(2)
        head = (
            "Site", "Intervention", "Target before → after", "Change", "Control before → after",
            "Primary outcome [95% CI]", "Reading, method, window",
        )  # fmt: skip
        _table(doc, [head, *(_evaluation_row(a) for a in r.evaluations)], (34, 25, 22, 15, 24, 27, 33), size=8)
    if r.not_evaluated:
        skipped = "; ".join(f"{s['audit'].site_name}: {s['reason']}" for s in r.not_evaluated)
        doc.paragraph(f"Not evaluated: {skipped}", 9)


def _outstanding_row(o: Outstanding, today: Any) -> tuple[str, ...]:
    rec = o.recommendation
    due = rec.expected_on.isoformat() if rec.expected_on else "not set"
    return (
        due + ("\nOVERDUE" if o.overdue(today) else ""),
        o.audit.site_name,
        words(rec.category),
        rec.description,
        str(rec.priority),
        words(rec.status),
        rec.responsible_party or "—",
        rec.status_note or "",
    )


def _outstanding(doc: Document, r: PartnershipReport) -> None:
    overdue = sum(1 for o in r.outstanding if o.overdue(r.today))
    _section(doc, f"Outstanding recommendations ({len(r.outstanding)}, {overdue} overdue)", 40)
    doc.paragraph(
        f"Every open recommendation of the partnership's audits on {r.today.isoformat()}, soonest expected first.", 9.5
    )
    if not r.outstanding:
        doc.paragraph("No recommendation is outstanding.", 9.5)
        return
    head = ("Expected", "Site", "Category", "Recommendation", "Priority", "Status", "Responsible", "Note")
    rows = [head, *(_outstanding_row(o, r.today) for o in r.outstanding)]
    _table(doc, rows, (19, 22, 20, 43, 15, 17, 22, 22), size=7.5)


def _closing(doc: Document, r: PartnershipReport) -> None:
    as_of = r.as_of.isoformat(timespec="minutes") if r.as_of else "no event applied yet"
    behind = f" {r.lag_events} published changes were not applied yet." if r.lag_events else ""
    doc.ln(4)
    doc.paragraph(
        f"Figures as of {as_of} (UTC).{behind} Audits count by the day conducted, recommendations by their "
        "audit's day, implementations by the day implemented, events by their local start day "
        "(America/Toronto), as in the platform's running totals. Before/after definitions: odds ratio of "
        "Welsh & Farrington, with the other neighbourhoods of the municipality as control.",
        8.5,
        GREY,
    )


def render(r: PartnershipReport) -> bytes:
    title = f"{r.partnership.name}: CPTED partnership report {r.period.label}"
    doc = Document(title=title, language="en", made=made(r), footer=title)
    _header(doc, r)
    _outputs(doc, r)
    _recommendations(doc, r)
    _before_after(doc, r)
    _outstanding(doc, r)
    _closing(doc, r)
    return doc.to_bytes()
