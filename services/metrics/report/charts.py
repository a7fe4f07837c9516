"""Small inline SVG bar charts for the printable reports: no script, no external file, readable in print.

Horizontal bars, because category and site names are long; every bar carries
its number, so the chart reads without a scale, and ``data-key``/``data-value``
so that a program can read it back. Drawn at the size they are shown, so the
text stays the size of the page's small print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

ROW_H, VALUE_W, CHAR_W, MAX_LABEL = 24, 56, 6.6, 44
FONT = "font-family='Helvetica, Arial, sans-serif' font-size='12'"


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


@dataclass(frozen=True)
class Layout:
    """Where the labels end and how long the longest bar is, for a chart ``width`` pixels wide."""

    width: int
    label_w: float
    top: float

    @classmethod
    def fit(cls, width: int, labels: Sequence[str], values: Sequence[float]) -> Layout:
        label_w = min(width * 0.45, 12 + CHAR_W * max([len(_label(t)) for t in labels] or [0]))
        return cls(width, label_w, max([*values, 0]))

    def length(self, value: float) -> float:
        if self.top <= 0:
            return 0.0
        return max(value * (self.width - self.label_w - VALUE_W) / self.top, 1.0 if value else 0.0)

    def bar(self, y: float, value: float, colour: str, height: int) -> str:
        end = self.label_w + self.length(value)
        return (
            f"<rect x='{self.label_w:.1f}' y='{y:.1f}' width='{end - self.label_w:.1f}' height='{height}' "
            f"fill='{colour}'/><text x='{end + 5:.1f}' y='{y + height - 3:.1f}'>{_number(value)}</text>"
        )

    def name(self, y: float, text: str) -> str:
        return f"<text x='{self.label_w - 8:.1f}' y='{y:.1f}' text-anchor='end'>{escape(_label(text))}</text>"

    def svg(self, title: str, height: float, body: str) -> str:
        return (
            f"<svg xmlns='http://www.w3.org/2000/svg' role='img' viewBox='0 0 {self.width} {height:.0f}' "
            f"width='100%' style='max-width:{self.width}px' {FONT}><title>{escape(title)}</title>{body}</svg>"
        )


def bar_chart(title: str, rows: Sequence[tuple[str, str, float]], colour: str = "#2b6cb0", width: int = 460) -> str:
    """One bar per ``(key, label, value)``."""
    layout = Layout.fit(width, [label for _, label, _ in rows], [v for _, _, v in rows])
    parts = [
        f"<g class='bar' data-key='{escape(key)}' data-value='{_number(value)}'>"
        f"{layout.name(6 + i * ROW_H + 15, label)}{layout.bar(6 + i * ROW_H + 3, value, colour, ROW_H - 8)}</g>"
        for i, (key, label, value) in enumerate(rows)
    ]
    return layout.svg(title, 12 + len(rows) * ROW_H, "".join(parts))


def paired_chart(
    title: str,
    rows: Sequence[tuple[str, str, float, float]],
    legend: tuple[str, str],
    colours: tuple[str, str] = ("#2b6cb0", "#a0aec0"),
    width: int = 720,
) -> str:
    """Two bars per ``(key, label, first, second)``: this period and the last, or before and after."""
    layout = Layout.fit(width, [label for _, label, _, _ in rows], [v for *_, a, b in rows for v in (a, b)])
    step = 2 * (ROW_H - 8) + 14
    parts = [_legend(layout.label_w, legend, colours)]
    for i, (key, label, first, second) in enumerate(rows):
        y = 30 + i * step
        parts.append(
            f"<g class='pair' data-key='{escape(key)}' data-first='{_number(first)}' data-second='{_number(second)}'>"
            f"{layout.name(y + ROW_H - 9, label)}{layout.bar(y, first, colours[0], ROW_H - 10)}"
            f"{layout.bar(y + ROW_H - 8, second, colours[1], ROW_H - 10)}</g>"
        )
    return layout.svg(title, 36 + len(rows) * step, "".join(parts))


def _legend(x: float, legend: tuple[str, str], colours: tuple[str, str]) -> str:
    items = []
    for text, colour in zip(legend, colours, strict=True):
        swatch = f"<rect x='{x:.1f}' y='6' width='12' height='12' fill='{colour}'/>"
        items.append(f"{swatch}<text x='{x + 17:.1f}' y='16'>{escape(text)}</text>")
        x += 36 + CHAR_W * len(text)
    return "".join(items)
