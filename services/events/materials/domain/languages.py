"""BCP 47 language tags, checked against the IANA registry (``langcodes``), never by a regex."""

from __future__ import annotations

import langcodes

# Valid in BCP 47, but none of them names a language anyone can read a brochure in.
NOT_A_LANGUAGE = frozenset({"und", "mul", "zxx", "mis"})
RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Adlm", "Rohg", "Mand", "Samr", "Mend"})


class InvalidTag(ValueError):
    pass


def normalize(tag: str) -> str:
    """The canonical form of a valid tag (``fr-ca`` → ``fr-CA``, ``iw`` → ``he``); ``InvalidTag`` otherwise."""
    text = tag.strip()
    if not text or len(text) > 35 or not langcodes.tag_is_valid(text):
        raise InvalidTag(f"{tag!r} is not a valid BCP 47 language tag")
    canonical = langcodes.standardize_tag(text)
    if canonical.split("-")[0] in NOT_A_LANGUAGE:
        raise InvalidTag(f"{tag!r} does not name a language")
    return canonical


def primary(tag: str) -> str:
    """The language subtag alone: ``fr-CA`` → ``fr``."""
    return tag.split("-")[0].lower()


def direction(tag: str) -> str:
    """``rtl`` for right-to-left scripts (Arabic, Hebrew, …), else ``ltr``."""
    script = langcodes.Language.get(tag).maximize().script
    return "rtl" if script in RTL_SCRIPTS else "ltr"


def fallbacks(tag: str) -> list[str]:
    """RFC 4647 lookup: the tag, then ever shorter prefixes (``zh-Hant-TW`` → ``zh-Hant`` → ``zh``)."""
    parts = tag.split("-")
    chain = []
    while parts:
        if len(parts[-1]) == 1:  # never end on a singleton such as the "x" of a private-use part
            parts.pop()
            continue
        chain.append("-".join(parts))
        parts.pop()
    return chain
