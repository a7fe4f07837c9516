"""Photos of audited sites and of recommendations (multipart upload), their images and thumbnails."""

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import ValidationError

from services.audits.deps import PhotoFilesDep, PhotoSettingsDep, UowDep
from services.audits.photos import handlers as photos
from services.audits.photos.domain.photos import Limits, PhotoKind
from services.audits.photos.schemas import PhotoRead
from services.audits.tables import Photo
from shared.auth.keys import ReaderKey
from shared.contracts.fields import Moment, Note
from shared.contracts.geo import Point
from shared.errors import PROBLEM_JSON, InvalidField
from shared.web.http import ClockDep
from shared.web.pagination import Page, PageDep

router = APIRouter(tags=["photos"])

_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_UPLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    415: {"description": "The file is not a JPEG or PNG image (read from its content)", "content": _PROBLEM}
}
_IMAGE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"description": "The image, without any metadata", "content": {"image/jpeg": {}, "image/png": {}}}
}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def _filename(name: str | None) -> str | None:
    """The uploaded file's own name, for people to recognise it; never used to decide anything."""
    if not name:
        return None
    return _UNSAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])[:200] or None


def _point(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        return Point.model_validate_json(text).model_dump()
    except ValidationError as exc:
        raise InvalidField("location is a GeoJSON Point as JSON text", field="body.location") from exc


async def upload_form(
    settings: PhotoSettingsDep,
    file: Annotated[UploadFile, File(description="a JPEG or PNG image; its type is read from its content")],
    kind: Annotated[PhotoKind | None, Form(description="default: site (audit), else from the status")] = None,
    caption: Annotated[Note | None, Form()] = None,
    taken_at: Annotated[Moment | None, Form(description="overrides the photo's EXIF time")] = None,
    location: Annotated[
        str | None, Form(description='GeoJSON Point as JSON text, overrides the photo\'s EXIF GPS: {"type": ...}')
    ] = None,
) -> photos.Upload:
    limit = settings.max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise photos.ImageTooLarge(f"the file exceeds {limit:,} bytes", field="body.file")
    return photos.Upload(data, _filename(file.filename), kind, caption or None, taken_at, _point(location))


UploadDep = Annotated[photos.Upload, Depends(upload_form)]


async def photo_limits(settings: PhotoSettingsDep, clock: ClockDep) -> Limits:
    """EXIF times without an offset are read in the programme's zone."""
    return Limits(settings.max_pixels, settings.thumbnail_px, clock.zone_name)


LimitsDep = Annotated[Limits, Depends(photo_limits)]


def _created(response: Response, row: Photo) -> Photo:
    response.headers["Location"] = f"/v1/photos/{row.id}"
    return row


@router.post("/v1/audits/{audit_id}/photos", status_code=201, response_model=PhotoRead, responses=_UPLOAD_ANSWERS)
async def add_audit_photo(
    audit_id: uuid.UUID,
    upload: UploadDep,
    limits: LimitsDep,
    uow: UowDep,
    files: PhotoFilesDep,
    principal: ReaderKey,
    response: Response,
) -> Photo:
    """A photo of the audited site. EXIF GPS and time become `location`/`taken_at`, then leave the stored file."""
    row = await photos.add(uow, files, principal, limits, upload, audit_id=audit_id)
    return _created(response, row)


@router.get("/v1/audits/{audit_id}/photos", response_model=Page[PhotoRead])
async def list_audit_photos(
    audit_id: uuid.UUID, uow: UowDep, principal: ReaderKey, page: PageDep, kind: PhotoKind | None = None
) -> dict[str, object]:
    """The audit's own photos, newest first (its recommendations' photos are listed under each one)."""
    rows, cursor = await photos.page(uow, principal, page, kind, audit_id=audit_id)
    return {"items": rows, "next_cursor": cursor}


@router.post(
    "/v1/recommendations/{recommendation_id}/photos",
    status_code=201,
    response_model=PhotoRead,
    responses=_UPLOAD_ANSWERS,
)
async def add_recommendation_photo(
    recommendation_id: uuid.UUID,
    upload: UploadDep,
    limits: LimitsDep,
    uow: UowDep,
    files: PhotoFilesDep,
    principal: ReaderKey,
    response: Response,
) -> Photo:
    """A photo of the recommendation's site; `completion` (the default once implemented) shows the finished work."""
    row = await photos.add(uow, files, principal, limits, upload, recommendation_id=recommendation_id)
    return _created(response, row)


@router.get("/v1/recommendations/{recommendation_id}/photos", response_model=Page[PhotoRead])
async def list_recommendation_photos(
    recommendation_id: uuid.UUID, uow: UowDep, principal: ReaderKey, page: PageDep, kind: PhotoKind | None = None
) -> dict[str, object]:
    rows, cursor = await photos.page(uow, principal, page, kind, recommendation_id=recommendation_id)
    return {"items": rows, "next_cursor": cursor}


@router.get("/v1/photos/{photo_id}", response_model=PhotoRead)
async def get_photo(photo_id: uuid.UUID, uow: UowDep, principal: ReaderKey) -> Photo:
    row, _ = await photos.visible(uow, principal, photo_id)
    return row


async def _image(uow: UowDep, files: PhotoFilesDep, principal: ReaderKey, photo_id: uuid.UUID, thumb: bool) -> Response:
    row, data = await photos.image(uow, files, principal, photo_id, thumbnail=thumb)
    media = "image/jpeg" if thumb else row.content_type
    name = f"photo-{row.id}{'-thumbnail' if thumb else ''}.{'png' if media == 'image/png' else 'jpg'}"
    headers = {"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, max-age=3600"}
    return Response(data, media_type=media, headers=headers)


@router.get("/v1/photos/{photo_id}/image", response_class=Response, responses=_IMAGE_ANSWER)
async def photo_image(photo_id: uuid.UUID, uow: UowDep, files: PhotoFilesDep, principal: ReaderKey) -> Response:
    return await _image(uow, files, principal, photo_id, thumb=False)


@router.get(
    "/v1/photos/{photo_id}/thumbnail",
    response_class=Response,
    responses={200: {"description": "A JPEG at most 320 pixels on its longer side", "content": {"image/jpeg": {}}}},
)
async def photo_thumbnail(photo_id: uuid.UUID, uow: UowDep, files: PhotoFilesDep, principal: ReaderKey) -> Response:
    return await _image(uow, files, principal, photo_id, thumb=True)


@router.delete("/v1/photos/{photo_id}", status_code=204)
async def delete_photo(photo_id: uuid.UUID, uow: UowDep, files: PhotoFilesDep, principal: ReaderKey) -> None:
    await photos.delete(uow, files, principal, photo_id)
