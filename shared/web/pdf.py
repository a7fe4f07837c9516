"""Printable PDFs, made in pure Python so that running the platform needs nothing but Python.

The fonts are the DejaVu Sans that matplotlib ships (Latin with every French accent,
Arabic and the punctuation the documents use), so nothing is downloaded and no font file
is kept in the repository. HarfBuzz shapes the text: Arabic letters join as they should
and right-to-left lines are laid out right to left. The creation date is the data's own
time and nothing else varies, so the same data gives the same bytes (and the same ``/ID``).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

import matplotlib
from fpdf import FPDF

CREATOR = "CPTED Partnerships Platform"
FAMILY = "DejaVu"
MARGIN = 18.0
GREY = (90, 90, 90)


@cache
def fonts() -> dict[str, Path]:
    """Regular and bold DejaVu Sans from matplotlib's data; loud when an install lacks them."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    found = {"": folder / "DejaVuSans.ttf", "B": folder / "DejaVuSans-Bold.ttf"}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"the PDF fonts are missing from matplotlib's data: {', '.join(missing)}")
    return found


class Document(FPDF):
    """A Letter page with the platform's font, shaped text, a footer line and fixed metadata."""

    def __init__(self, *, title: str, language: str, made: datetime, direction: str = "ltr", footer: str = "") -> None:
        super().__init__(orientation="portrait", unit="mm", format="letter")
        self.direction = direction
        self.footer_text = footer
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN)
        for style, path in fonts().items():
            self.add_font(FAMILY, style, str(path))
        self._shape(direction)
        self.set_title(title)
        self.set_lang(language)
        self.set_creator(CREATOR)
        self.set_creation_date(made)
        self.add_page()

    @property
    def start(self) -> str:
        """Where a line of this document's direction begins: left, or right for Arabic."""
        return "R" if self.direction == "rtl" else "L"

    def _shape(self, direction: str) -> None:
        self.set_text_shaping(use_shaping_engine=True, direction=direction)

    def heading(self, text: str, size: float = 18) -> None:
        self.set_font(FAMILY, "B", size)
        self.multi_cell(0, size * 0.5, text, align=self.start, new_x="LMARGIN", new_y="NEXT")
        self.ln(size * 0.2)

    def paragraph(self, text: str, size: float = 11.5, colour: tuple[int, int, int] = (17, 17, 17)) -> None:
        self.set_font(FAMILY, "", size)
        self.set_text_color(*colour)
        self.multi_cell(0, size * 0.55, text, align=self.start, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(17, 17, 17)
        self.ln(size * 0.25)

    def footer(self) -> None:
        # Slugs, dates and page numbers read left to right, even under an Arabic page.
        self._shape("ltr")
        self.set_y(-MARGIN + 4)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*GREY)
        line = f"{self.footer_text} · {self.page_no()}/{{nb}}" if self.footer_text else f"{self.page_no()}/{{nb}}"
        self.cell(0, 4, line, align="C")
        self.set_text_color(17, 17, 17)
        self._shape(self.direction)

    def to_bytes(self) -> bytes:
        return bytes(self.output())
