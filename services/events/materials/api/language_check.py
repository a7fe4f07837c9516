from typing import Any

from fastapi import APIRouter

from services.events.materials.handlers import languages
from services.events.materials.schemas import LanguageCheckRead, LanguageCheckRequest
from shared.auth.keys import ReaderKey

router = APIRouter(tags=["language check"])


@router.post(
    "/v1/language-check",
    response_model=LanguageCheckRead,
    summary="Find stigmatizing terms about substance use in any text, with person-first suggestions",
)
async def check_language(body: LanguageCheckRequest, principal: ReaderKey) -> dict[str, Any]:
    return languages.check(body.text, body.lang)
