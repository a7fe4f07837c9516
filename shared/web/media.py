"""Which representation to answer with, from the ``Accept`` header (RFC 9110 §12.5.1).

Each offered media type gets the q-value of the most specific range that matches it
(``application/pdf`` over ``application/*`` over ``*/*``); the highest wins and ties go to
the order the server offers them in, so a browser's ``*/*`` keeps getting the first one.
No ``Accept`` means anything is fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.errors import PROBLEM_JSON, Problem

PDF = "application/pdf"
JSON = "application/json"
HTML = "text/html"


class NotAcceptable(Problem):
    status, type, title = 406, "not-acceptable", "Not acceptable"


def weighted(header: str) -> list[tuple[str, float | None]]:
    """Each comma-separated range of an ``Accept``-style header (``Accept-Language`` too), as sent, with its
    q-value: 1 without one, clamped to 0..1, ``None`` when it is not a number; what that means is the caller's."""
    found: list[tuple[str, float | None]] = []
    for part in header.split(","):
        name, *params = [p.strip() for p in part.split(";")]
        q: float | None = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = None
        found.append((name, q))
    return found


def _ranges(accept: str) -> list[tuple[str, float]]:
    # A weight that is not a number, NaN included, is no weight.
    return [(name.lower(), q if q is not None and q == q else 0.0) for name, q in weighted(accept) if "/" in name]


def _quality(media: str, ranges: list[tuple[str, float]]) -> float:
    kind = media.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for name, q in ranges:
        specificity = 2 if name == media else 1 if name == f"{kind}/*" else 0 if name == "*/*" else -1
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


def preferred(accept: str | None, offered: Sequence[str]) -> str:
    """The offered media type the client likes best; 406 when it accepts none of them."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = _ranges(accept)
    if not ranges:
        return offered[0]
    scored = [(_quality(media, ranges), -i, media) for i, media in enumerate(offered)]
    q, _, media = max(scored)
    if q <= 0:
        raise NotAcceptable(f"this resource is served as {' or '.join(offered)}", available_media_types=list(offered))
    return media


def binary(media: str, description: str) -> dict[str, Any]:
    """An OpenAPI answer whose body is a file of ``media``."""
    return {"description": description, "content": {media: {"schema": {"type": "string", "format": "binary"}}}}


NOT_ACCEPTABLE: dict[int | str, dict[str, Any]] = {
    406: {
        "description": "None of the media types in Accept is served",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}
