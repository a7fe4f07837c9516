from typing import Any

from fastapi import APIRouter

from services.events.materials.domain import language_check
from services.events.materials.handlers.materials import tag
from services.events.materials.schemas import LanguageCheckRead, LanguageCheckRequest
from shared.auth.keys import ReaderKey

router = APIRouter(tags=["language check"])


@router.post(
    "/v1/language-check",
    response_model=LanguageCheckRead,
    summary="Find stigmatizing terms about substance use in any text, with person-first suggestions",
)
async def check_language(body: LanguageCheckRequest, principal: ReaderKey) -> dict[str, Any]:
    language = tag(body.lang, "body.lang")
    findings = [{"field": "text"} | vars(f) for f in language_check.check(body.text, language)]
    checked = language_check.checked_languages()
    return {
        "lang": language,
        "checked": language.split("-")[0] in checked,
        "checked_languages": checked,
        "findings": findings,
    }
