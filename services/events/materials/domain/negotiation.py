"""Which language of a material to answer in: ``?lang``, else ``Accept-Language``, else the source.

An explicit ``?lang`` is a choice: when neither it nor a shorter form of it
(``fr-CA`` → ``fr``) exists, the answer is "missing" with the languages that
do exist. ``Accept-Language`` is a preference: ranges are tried by q-value
(ties in the order sent), each by lookup (``fr-CA`` → ``fr``) and then by
filtering (``fr`` → ``fr-CA``); ``q=0`` excludes; ``*`` and no match give
the source language.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from services.events.materials.domain.languages import InvalidTag, fallbacks, normalize
from shared.web.media import weighted


class MissingTranslation(LookupError):
    def __init__(self, requested: str, available: list[str]) -> None:
        super().__init__(f"no {requested} version; available: {', '.join(available)}")
        self.requested = requested
        self.available = available


@dataclass(frozen=True)
class Choice:
    language: str
    reason: str  # "lang", "accept-language" or "source"


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """``fr-CA,fr;q=0.9,*;q=0.1`` → ranges by preference; malformed parts are skipped, as RFC 9110 allows."""
    ranges: list[tuple[int, str, float]] = []
    for position, (name, q) in enumerate(weighted(header or "")):
        if not name or q is None:
            continue
        if name != "*":
            try:
                name = normalize(name)
            except InvalidTag:
                continue
        ranges.append((position, name, q))
    ranges.sort(key=lambda r: (-r[2], r[0]))
    return [(name, q) for _, name, q in ranges]


def _match(wanted: str, available: Collection[str], excluded: set[str]) -> str | None:
    lowered = {a.lower(): a for a in available if a.lower() not in excluded}
    for candidate in fallbacks(wanted):
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    prefix = wanted.lower() + "-"
    return next((a for low, a in sorted(lowered.items()) if low.startswith(prefix)), None)


def choose(available: Collection[str], source: str, lang: str | None = None, accept: str | None = None) -> Choice:
    if lang is not None:
        found = _match(normalize(lang), available, set())
        if found is None:
            raise MissingTranslation(lang, sorted(available))
        return Choice(found, "lang")
    ranges = parse_accept_language(accept)
    excluded = {name.lower() for name, q in ranges if q == 0 and name != "*"}
    for name, q in ranges:
        if q == 0:
            continue
        if name == "*":
            break
        found = _match(name, available, excluded)
        if found is not None:
            return Choice(found, "accept-language")
    return Choice(source, "source")
