"""The report's bar charts as PNG pictures for the PDF, drawn like the HTML's SVG ones.

Horizontal bars with their number at the end, so a chart reads without a scale.
Drawn on a bare ``Figure`` (Agg canvas, never pyplot) in matplotlib's DejaVu Sans, the
PDF's font; a PNG carries no date, so the same figures give the same picture.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

from services.metrics.report.charts import MAX_LABEL

INK, MUTED = "#1a202c", "#4a5568"


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _png(figure: Figure) -> bytes:
    """Opaque RGB: an alpha channel would become a soft mask that some viewers show as a grey box."""
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png", dpi=200, bbox_inches="tight", facecolor="white")
    opaque = io.BytesIO()
    Image.open(drawn).convert("RGB").save(opaque, format="PNG")
    return opaque.getvalue()


def _axes(figure: Figure, labels: Sequence[str], top: float) -> Axes:
    axes = figure.add_subplot()
    axes.set_yticks(range(len(labels)), [_label(t) for t in labels], fontsize=9, color=INK)
    axes.invert_yaxis()
    axes.set_xlim(0, max(top, 1) * 1.15)
    axes.set_xticks([])
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    axes.spines["left"].set_color("#cbd5e0")
    axes.tick_params(axis="y", length=0)
    return axes


def bars(rows: Sequence[tuple[str, float]], colour: str = "#2b6cb0", width: float = 4.2) -> bytes:
    """One bar per ``(label, value)``; ``width`` in inches."""
    labels, values = [label for label, _ in rows], [value for _, value in rows]
    figure = Figure(figsize=(width, 0.3 * len(rows) + 0.3))
    axes = _axes(figure, labels, max(values, default=0))
    drawn = axes.barh(range(len(rows)), values, height=0.62, color=colour)
    axes.bar_label(drawn, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=9, color=INK)
    return _png(figure)


def paired(
    rows: Sequence[tuple[str, float, float]],
    legend: tuple[str, str],
    colours: tuple[str, str] = ("#2b6cb0", "#a0aec0"),
    width: float = 6.8,
) -> bytes:
    """Two bars per ``(label, first, second)``: this period and the last, or before and after."""
    labels = [label for label, _, _ in rows]
    figure = Figure(figsize=(width, 0.55 * len(rows) + 0.6))
    axes = _axes(figure, labels, max([v for _, a, b in rows for v in (a, b)], default=0))
    for offset, index, name, colour in ((-0.19, 1, legend[0], colours[0]), (0.19, 2, legend[1], colours[1])):
        values = [row[index] for row in rows]
        positions = [i + offset for i in range(len(rows))]
        drawn = axes.barh(positions, values, height=0.36, color=colour, label=name)
        axes.bar_label(drawn, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=8.5, color=INK)
    axes.legend(loc="lower right", fontsize=8.5, frameon=False, labelcolor=MUTED)
    return _png(figure)
