"""Language tags, negotiation of a material's language, and the stigmatizing-language check."""

from __future__ import annotations

import pytest

from services.events.materials.domain.language_check import check, checked_languages, tokens
from services.events.materials.domain.languages import InvalidTag, direction, fallbacks, normalize
from services.events.materials.domain.negotiation import MissingTranslation, choose, parse_accept_language


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("fr-ca", "fr-CA"),
        ("EN", "en"),
        ("fr_CA", "fr-CA"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("iw", "he"),
        ("eng", "en"),
        ("sr-Latn", "sr-Latn"),
        ("en-US-x-windsor", "en-US-x-windsor"),
    ],
)
def test_valid_tags_are_canonicalized(given: str, canonical: str) -> None:
    assert normalize(given) == canonical


@pytest.mark.parametrize("given", ["xx", "zz-ZZ", "english", "en--US", "123", "", "und", "zxx", "a" * 40, "fr-CA-"])
def test_invalid_tags_are_refused(given: str) -> None:
    with pytest.raises(InvalidTag):
        normalize(given)


@pytest.mark.parametrize(
    ("tag", "dir_"),
    [("ar", "rtl"), ("fa", "rtl"), ("he", "rtl"), ("ur", "rtl"), ("en", "ltr"), ("fr-CA", "ltr"), ("zh-Hant", "ltr")],
)
def test_direction_follows_the_script(tag: str, dir_: str) -> None:
    assert direction(tag) == dir_


def test_lookup_fallbacks_shorten_the_tag_and_skip_singletons() -> None:
    assert fallbacks("zh-Hant-TW") == ["zh-Hant-TW", "zh-Hant", "zh"]
    assert fallbacks("en-US-x-twain") == ["en-US-x-twain", "en-US", "en"]


def test_accept_language_is_ordered_by_q_then_by_position() -> None:
    assert parse_accept_language("en;q=0.5, fr-ca, ar;q=0.5, de;q=bad, *;q=0.1, x!") == [
        ("fr-CA", 1.0),
        ("en", 0.5),
        ("ar", 0.5),
        ("*", 0.1),
    ]


AVAILABLE = ["en", "fr", "ar"]


@pytest.mark.parametrize(
    ("accept", "expected", "reason"),
    [
        ("fr-CA,fr;q=0.9", "fr", "accept-language"),
        ("fr-CA", "fr", "accept-language"),
        ("de-AT, ar;q=0.2", "ar", "accept-language"),
        ("de, es", "en", "source"),
        ("*", "en", "source"),
        ("fr;q=0, ar;q=0.1, *;q=0.5", "en", "source"),  # anything (the source) at 0.5 beats ar at 0.1
        ("fr;q=0, ar;q=0.6, *;q=0.5", "ar", "accept-language"),
        ("", "en", "source"),
        (None, "en", "source"),
        ("garbage;;;,", "en", "source"),
    ],
)
def test_accept_language_negotiation(accept: str | None, expected: str, reason: str) -> None:
    choice = choose(AVAILABLE, "en", accept=accept)
    assert (choice.language, choice.reason) == (expected, reason)


def test_a_general_range_matches_a_regional_translation() -> None:
    assert choose(["en", "fr-CA"], "en", accept="fr").language == "fr-CA"


def test_lang_wins_over_accept_language_and_falls_back_by_region() -> None:
    assert choose(AVAILABLE, "en", lang="fr-CA", accept="ar").language == "fr"


def test_an_explicit_missing_language_reports_the_languages_there_are() -> None:
    with pytest.raises(MissingTranslation) as missing:
        choose(AVAILABLE, "en", lang="de")
    assert missing.value.available == ["ar", "en", "fr"]


def _found(text: str, lang: str = "en") -> list[str]:
    return [f.text for f in check(text, lang)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Addiction services are open to everyone.", []),
        ("She is an addict.", ["addict"]),
        ("An addict's family needs support.", ["addict's"]),
        ("An addict\u2019s family (typographic apostrophe).", ["addict\u2019s"]),
        ("ex-addicts and former addicts", ["ex-addicts", "former addicts"]),
        ("ADDICTS", ["ADDICTS"]),
        ("addicted, addictive, addictions", []),
        ("substance-abuse programs and drug abuse", ["substance-abuse", "drug abuse"]),
        ("Abuse of any kind is reported.", []),
        ("A clean alley and clean-up day.", []),
        ("He stayed clean for a year.", ["stayed clean"]),
        ("dirty needles were found", ["dirty needles"]),
        ("Healthy habits; a drug habit", ["drug habit"]),
        ("junkies, junk mail", ["junkies"]),
    ],
)
def test_english_words_match_whole_words_only(text: str, found: list[str]) -> None:
    assert _found(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Les toxicomanes du quartier", ["toxicomanes"]),
        ("l'abus de drogues et l\u2019abus d\u2019alcool", ["abus de drogues", "abus d\u2019alcool"]),
        ("La toxicomanie, puis les services en dépendance", ["toxicomanie"]),
        ("une personne droguée", ["droguée"]),
        ("une personne drogue\u0301e (accent combiné)", ["drogue\u0301e"]),
        ("Les services de santé publique", []),
    ],
)
def test_french_words_with_elision_and_accents(text: str, found: list[str]) -> None:
    assert _found(text, "fr-CA") == found


def test_positions_point_at_the_original_text() -> None:
    text = "Un abuseur? Non: une personne."
    (finding,) = check(text, "fr")
    assert text[finding.start : finding.end] == "abuseur"
    assert finding.suggestions and finding.source["url"].startswith("https://")


def test_a_language_without_a_list_finds_nothing() -> None:
    assert check("addict", "ar") == []
    assert checked_languages() == ["en", "fr"]


def test_tokens_split_hyphens_and_elisions() -> None:
    assert [t.text for t in tokens("L'ex-toxicomane's")] == ["l'", "ex", "toxicomane"]
