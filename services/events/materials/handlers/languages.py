"""Language tags as clients send them, and the language check of any text."""

from __future__ import annotations

from typing import Any

from services.events.materials.domain import language_check
from services.events.materials.domain.languages import InvalidTag, normalize
from shared.errors import InvalidField


def tag(value: str, field: str) -> str:
    """The canonical form of a BCP 47 tag; a 422 naming ``field`` otherwise."""
    try:
        return normalize(value)
    except InvalidTag as exc:
        raise InvalidField(str(exc), field=field) from exc


def check(text: str, lang: str) -> dict[str, Any]:
    """Stigmatizing terms in ``text``, and whether there is a term list for its language at all."""
    language = tag(lang, "body.lang")
    findings = [{"field": "text"} | vars(f) for f in language_check.check(text, language)]
    checked = language_check.checked_languages()
    return {
        "lang": language,
        "checked": language.split("-")[0] in checked,
        "checked_languages": checked,
        "findings": findings,
    }
