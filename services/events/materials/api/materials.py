import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import HTMLResponse

from services.events.deps import UowDep
from services.events.materials.domain import printable
from services.events.materials.domain.negotiation import Choice
from services.events.materials.handlers import materials
from services.events.materials.schemas import ContentRead, MaterialCreate, MaterialRead, MaterialUpdate, TranslationBody
from services.events.materials.store import queries
from services.events.records import get
from services.events.tables import Material
from shared.auth.keys import ReaderKey
from shared.contracts.vocabulary import MaterialKind, MaterialTopic
from shared.web.http import IfMatch, SessionDep, created
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
    body: MaterialCreate, uow: UowDep, principal: ReaderKey, response: Response, strict: StrictQ = False
) -> dict[str, Any]:
    row, was_created = await materials.create(uow, principal, body, strict)
    created(response, f"/v1/materials/{row.id}", row.version, was_created)
    return materials.view(row)


@router.get("", response_model=Page[MaterialRead])
async def list_materials(
    session: SessionDep,
    principal: ReaderKey,
    page: PageDep,
    topic: MaterialTopic | None = None,
    kind: MaterialKind | None = None,
    language: Annotated[str | None, Query(max_length=35, description="has a version in this language")] = None,
) -> dict[str, object]:
    wanted = materials.tag(language, "query.language") if language else None
    rows, cursor = await queries.list_materials(session, page, topic=topic, kind=kind, language=wanted)
    return {"items": [materials.view(r) for r in rows], "next_cursor": cursor}


@router.get("/{material_id}", response_model=MaterialRead)
async def get_material(material_id: uuid.UUID, uow: UowDep, principal: ReaderKey, response: Response) -> dict[str, Any]:
    row = await get(uow, Material, material_id)
    set_etag(response, row.version)
    return materials.view(row)


@router.patch("/{material_id}", response_model=MaterialRead)
async def update_material(
    material_id: uuid.UUID,
    body: MaterialUpdate,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    if_match: IfMatch = None,
    strict: StrictQ = False,
) -> dict[str, Any]:
    row = await materials.update(uow, principal, material_id, body, if_match, strict)
    set_etag(response, row.version)
    return materials.view(row)


@router.put("/{material_id}/translations/{lang}", response_model=MaterialRead)
async def put_translation(
    material_id: uuid.UUID,
    lang: Annotated[str, Path(max_length=35, description="BCP 47 language tag")],
    body: TranslationBody,
    uow: UowDep,
    principal: ReaderKey,
    response: Response,
    if_match: IfMatch = None,
    strict: StrictQ = False,
) -> dict[str, Any]:
    row, added = await materials.translate(uow, principal, material_id, lang, body, if_match, strict)
    response.status_code = 201 if added else 200
    set_etag(response, row.version)
    return materials.view(row)


def _negotiated(
    response: Response, row: Material, language: str, vary: str = "Accept-Language", form: str = ""
) -> None:
    """One validator per version, language and form (``-pdf``), as each is a different file."""
    response.headers["Content-Language"] = language
    response.headers["Vary"] = vary
    response.headers["ETag"] = f'"{row.version}-{language}{form}"'


async def _pdf(row: Material, choice: Choice, vary: str) -> Response:
    response = Response(await materials.pdf(row, choice), media_type=PDF)
    _negotiated(response, row, choice.language, vary, form="-pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{row.slug}-{choice.language}.pdf"'
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
    media = preferred(accept, (JSON, PDF))
    row = await get(uow, Material, material_id)
    choice = materials.negotiate(row, lang, accept_language)
    if media == PDF:
        return await _pdf(row, choice, vary="Accept, Accept-Language")
    _negotiated(response, row, choice.language, vary="Accept, Accept-Language")
    return materials.content(row, choice)


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
    row = await get(uow, Material, material_id)
    return await _pdf(row, materials.negotiate(row, lang, accept_language), vary="Accept-Language")


@router.get("/{material_id}/print.html", response_class=HTMLResponse, summary="The material as a printable page")
async def material_print_html(
    material_id: uuid.UUID,
    uow: UowDep,
    principal: ReaderKey,
    lang: LangQ = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    row = await get(uow, Material, material_id)
    text = materials.content(row, materials.negotiate(row, lang, accept_language))
    page = printable.html(
        slug=row.slug, language=text["language"], direction=text["direction"], title=text["title"], body=text["body"]
    )
    response = HTMLResponse(page)
    _negotiated(response, row, text["language"])
    response.headers["Content-Disposition"] = f'inline; filename="{row.slug}-{text["language"]}.html"'
    return response
