"""The reports' look (inline, so the file stands alone and prints on A4 or Letter) and their text escaping."""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
@page { size: auto; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { margin: 0; color: #1a202c; background: #fff; font: 14px/1.45 Helvetica, Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 40px; }
header { border-bottom: 3px solid #2b6cb0; padding-bottom: 12px; margin-bottom: 8px; }
.kicker { margin: 0; color: #2b6cb0; font-weight: bold; text-transform: uppercase; letter-spacing: .06em;
  font-size: 12px; }
h1 { margin: 4px 0 2px; font-size: 28px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid #cbd5e0; padding-bottom: 4px; }
.dates { margin: 0 0 10px; color: #4a5568; }
table { border-collapse: collapse; }
.facts th { text-align: left; font-weight: normal; color: #4a5568; padding: 1px 16px 1px 0; }
.figures { width: 100%; max-width: 680px; margin-bottom: 12px; }
.figures th, .figures td { padding: 5px 10px; border-bottom: 1px solid #e2e8f0; }
.figures thead th { text-align: right; border-bottom: 2px solid #a0aec0; }
.figures tbody th { text-align: left; font-weight: normal; }
.figures td { text-align: right; font-variant-numeric: tabular-nums; }
.figures td[data-period='current'] { font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 24px; }
figure { margin: 0; flex: 1 1 440px; }
figcaption { font-weight: bold; margin: 6px 0; }
.list { width: 100%; font-size: 12.5px; }
.list th { text-align: left; background: #edf2f7; padding: 5px 6px; }
.list td { padding: 5px 6px; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
.nowrap { white-space: nowrap; }
.late { display: inline-block; color: #fff; background: #c53030; border-radius: 3px; padding: 0 4px;
  font-size: 11px; }
.note { color: #4a5568; font-size: 12.5px; }
footer { margin-top: 32px; border-top: 1px solid #cbd5e0; color: #4a5568; font-size: 12px; }
section { break-inside: avoid-page; }
tr, figure { break-inside: avoid; }
@media print { main { padding: 0; } h2 { break-after: avoid; } }
"""


def e(value: Any) -> str:
    """Text for HTML, empty for None."""
    return escape("" if value is None else str(value))


def words(value: Any) -> str:
    """``in_progress`` as people write it: ``In progress``."""
    return str(value).replace("_", " ").capitalize()
