"""Finds stigmatizing words about substance use and suggests person-first language.

Text is split into word tokens (Unicode letters, French elisions such as
``l'`` and ``d'`` split off, hyphenated words split, possessive ``'s``
dropped), so whole words are compared and never parts of words: "addict"
is found in "an addict's needs" and "ex-addict", never in "addiction
services". The terms and their inflections come from ``stigma_terms.json``,
each with the public guidance it follows.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.events.materials.domain.languages import primary

TERMS_FILE = Path(__file__).with_name("stigma_terms.json")
_MARKS = "\u0300-\u036f"
_APOSTROPHES = "'\u2019"
TOKEN = re.compile(
    rf"\b(?:qu|[cdjlmnst])[{_APOSTROPHES}](?=\w)|[\w{_MARKS}]+(?:[{_APOSTROPHES}][\w{_MARKS}]+)*", re.IGNORECASE
)


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Entry:
    term: str
    forms: tuple[tuple[str, ...], ...]
    suggestions: tuple[str, ...]
    source: dict[str, Any]


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    text: str
    term: str
    suggestions: tuple[str, ...]
    source: dict[str, Any]


def _normal(word: str) -> str:
    word = unicodedata.normalize("NFC", word).casefold().replace("\u2019", "'")
    return word[:-2] if word.endswith("'s") else word


def tokens(text: str) -> list[Token]:
    return [Token(_normal(m.group()), m.start(), m.end()) for m in TOKEN.finditer(text)]


@lru_cache
def lexicon() -> dict[str, tuple[Entry, ...]]:
    """Entries by language subtag, from the data file."""
    data = json.loads(TERMS_FILE.read_text(encoding="utf-8"))
    by_lang: dict[str, list[Entry]] = {}
    for item in data["terms"]:
        forms = tuple(tuple(t.text for t in tokens(form)) for form in item["forms"])
        entry = Entry(item["term"], forms, tuple(item["suggestions"]), data["sources"][item["source"]])
        by_lang.setdefault(item["lang"], []).append(entry)
    return {lang: tuple(entries) for lang, entries in by_lang.items()}


def checked_languages() -> list[str]:
    return sorted(lexicon())


def _longest_at(words: list[str], i: int, entries: tuple[Entry, ...]) -> tuple[int, Entry] | None:
    best: tuple[int, Entry] | None = None
    for entry in entries:
        for form in entry.forms:
            if tuple(words[i : i + len(form)]) == form and (best is None or len(form) > best[0]):
                best = (len(form), entry)
    return best


def check(text: str, language: str) -> list[Finding]:
    """Findings in ``text`` (character offsets), for the language's list; none for a language without one."""
    entries = lexicon().get(primary(language), ())
    found = tokens(text)
    words = [t.text for t in found]
    findings: list[Finding] = []
    i = 0
    while i < len(found):
        match = _longest_at(words, i, entries)
        if match is None:
            i += 1
            continue
        size, entry = match
        start, end = found[i].start, found[i + size - 1].end
        findings.append(Finding(start, end, text[start:end], entry.term, entry.suggestions, entry.source))
        i += size
    return findings
