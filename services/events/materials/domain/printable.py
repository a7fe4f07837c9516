"""A material as a printable page in one language: HTML (``dir="rtl"`` for Arabic and other RTL scripts) or PDF.

Every HTML value is escaped; paragraphs are the body's blank-line-separated blocks in both.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

PAGE = """<!DOCTYPE html>
<html lang="{lang}" dir="{dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
@page {{ size: letter; margin: 18mm; }}
body {{ font-family: "Noto Sans", "Noto Naskh Arabic", "Segoe UI", Arial, sans-serif;
       font-size: 12pt; line-height: 1.5; max-width: 42em; margin: 2em auto; color: #111; }}
h1 {{ font-size: 20pt; margin-bottom: 0.5em; }}
p {{ margin: 0 0 0.8em; white-space: pre-line; }}
footer {{ margin-top: 2em; font-size: 9pt; color: #555; border-top: 1px solid #ccc; padding-top: 0.5em; }}
@media print {{ body {{ margin: 0; max-width: none; }} }}
</style>
</head>
<body>
<article>
<h1>{title}</h1>
{paragraphs}
</article>
<footer>{slug} · {lang}</footer>
</body>
</html>
"""


def paragraphs(body: str) -> list[str]:
    return [block.strip() for block in body.replace("\r\n", "\n").split("\n\n") if block.strip()]


def html(*, slug: str, language: str, direction: str, title: str, body: str) -> str:
    blocks = "\n".join(f"<p>{escape(block)}</p>" for block in paragraphs(body))
    return PAGE.format(lang=escape(language), dir=direction, title=escape(title), paragraphs=blocks, slug=escape(slug))


def pdf(*, slug: str, language: str, direction: str, title: str, body: str, made: datetime) -> bytes:
    """One Letter page or more; ``made`` is the material's last change, so a version prints the same every time."""
    from shared.web.pdf import Document  # fpdf2 loads in a second: only when a PDF is asked for, not at start-up

    document = Document(title=title, language=language, made=made, direction=direction, footer=f"{slug} · {language}")
    document.heading(title)
    for block in paragraphs(body):
        document.paragraph(block)
    return document.to_bytes()
