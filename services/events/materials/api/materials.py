import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import HTMLResponse

from services.events.deps import UowDep
from services.events.materials.handlers import content, materials
from services.events.materials.handlers.content import Negotiated
from services.events.materials.schemas import ContentRead, MaterialCreate, MaterialRead, MaterialUpdate, TranslationBody
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import MaterialKind, MaterialTopic
from shared.web.http import ClockDep, IfMatch, created
from shared.web.media import JSON, NOT_ACCEPTABLE, PDF, binary, preferred
from shared.web.pagination import Page, PageDep
from shared.web.versioning import set_etag

router = APIRouter(prefix="/v1/materials", tags=["materials"])

StrictQ = Annotated[
    bool, Query(description="refuse to save text with stigmatizing terms (422) instead of only reporting them")
]
LangQ = Annotated[str | None, Query(max_length=35, description="BCP 47 tag; overrides Accept-Language")]
AcceptLanguage = Annotated[str | None, Header(max_length=1000)]
Accept = Annotated[str | None, Header(max_length=1000, description="application/json, or application/pdf for a PDF")]
PDF_ANSWER = binary(PDF, "The material in the negotiated language as a PDF (Letter, Arabic shaped right to left)")


@router.post("", status_code=201, response_model=MaterialRead)
async def create_material(
    body: MaterialCreate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    clock: ClockDep,
    strict: StrictQ = False,
) -> dict[str, Any]:
    material, was_created = await materials.create(uow, principal, body, strict, clock)
    created(response, f"/v1/materials/{material['id']}", material["version"], was_created)
    return material


@router.get("", response_model=Page[MaterialRead])
async def list_materials(
    uow: UowDep,
    principal: ReaderKey,
    page: PageDep,
    topic: MaterialTopic | None = None,
    kind: MaterialKind | None = None,
    language: Annotated[str | None, Query(max_length=35, description="has a version in this language")] = None,
) -> dict[str, object]:
    items, cursor = await materials.listing(uow, page, topic=topic, kind=kind, language=language)
    return {"items": items, "next_cursor": cursor}


@router.get("/{material_id}", response_model=MaterialRead)
async def get_material(material_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response) -> dict[str, Any]:
    material = await materials.read(uow, material_id)
    set_etag(response, material["version"])
    return material


@router.patch("/{material_id}", response_model=MaterialRead)
async def update_material(
    material_id: uuid.UUID,
    body: MaterialUpdate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    clock: ClockDep,
    if_match: IfMatch = None,
    strict: StrictQ = False,
) -> dict[str, Any]:
    material = await materials.update(uow, principal, material_id, body, if_match, strict, clock)
    set_etag(response, material["version"])
    return material


@router.put("/{material_id}/translations/{lang}", response_model=MaterialRead)
async def put_translation(
    material_id: uuid.UUID,
    lang: Annotated[str, Path(max_length=35, description="BCP 47 language tag")],
    body: TranslationBody,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    clock: ClockDep,
    if_match: IfMatch = None,
    strict: StrictQ = False,
) -> dict[str, Any]:
    material, added = await materials.translate(uow, principal, material_id, lang, body, if_match, strict, clock)
    response.status_code = 201 if added else 200
    set_etag(response, material["version"])
    return material


def _negotiated(response: Response, found: Negotiated, vary: str = "Accept-Language", form: str = "") -> None:
    """One validator per version, language and form (``-pdf``), as each is a different file."""
    response.headers["Content-Language"] = found.language
    response.headers["Vary"] = vary
    response.headers["ETag"] = f'"{found.version}-{found.language}{form}"'


def _pdf(found: Negotiated, document: bytes, vary: str) -> Response:
    response = Response(document, media_type=PDF)
    _negotiated(response, found, vary, form="-pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{found.slug}-{found.language}.pdf"'
    return response


@router.get(
    "/{material_id}/content",
    response_model=ContentRead,
    responses={**NOT_ACCEPTABLE, 200: {"content": PDF_ANSWER["content"]}},
)
async def material_content(
    material_id: uuid.UUID,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    lang: LangQ = None,
    accept_language: AcceptLanguage = None,
    accept: Accept = None,
) -> Any:
    """The text in one language as JSON, or with `Accept: application/pdf` as a printable PDF."""
    vary = "Accept, Accept-Language"
    if preferred(accept, (JSON, PDF)) == PDF:
        return _pdf(*await content.pdf(uow, material_id, lang, accept_language), vary=vary)
    found = await content.content(uow, material_id, lang, accept_language)
    _negotiated(response, found, vary=vary)
    return found.text


@router.get(
    "/{material_id}/content.pdf",
    response_class=Response,
    responses={200: PDF_ANSWER},
    summary="The material as a printable PDF",
)
async def material_content_pdf(
    material_id: uuid.UUID,
    uow: UowDep,
    principal: ReaderKey,
    lang: LangQ = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    return _pdf(*await content.pdf(uow, material_id, lang, accept_language), vary="Accept-Language")


@router.get("/{material_id}/print.html", response_class=HTMLResponse, summary="The material as a printable page")
async def material_print_html(
    material_id: uuid.UUID,
    uow: UowDep,
    principal: ReaderKey,
    lang: LangQ = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    found, page = await content.page(uow, material_id, lang, accept_language)
    response = HTMLResponse(page)
    _negotiated(response, found)
    response.headers["Content-Disposition"] = f'inline; filename="{found.slug}-{found.language}.html"'
    return response
