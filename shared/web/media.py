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


def _ranges(accept: str) -> list[tuple[str, float]]:
    found = []
    for part in accept.split(","):
        name, *params = [p.strip() for p in part.split(";")]
        if "/" not in name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                q = min(max(q, 0.0), 1.0) if q == q else 0.0  # NaN is no weight
        found.append((name.lower(), q))
    return found


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
