"""Use cases for photos: upload, list, read, delete.

Photos add nothing to any running total; their events (``photo.added``,
``photo.deleted``) are for the audit trail and never carry the place a photo
was taken. Who uploaded one is kept on the row (``uploaded_by``).

Order of writes: the image is checked and cleaned off the event loop, its
files are stored, then the row is committed; if the commit does not happen the
files are removed again. Deletion commits first and removes the files after.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.audits.core.handlers import audits, recommendations
from services.audits.core.handlers.records import load
from services.audits.photos.domain import photos
from services.audits.photos.domain.photos import PhotoKind, PhotoRefused
from services.audits.photos.store import queries as store
from services.audits.photos.store.files import MissingFile, PhotoFiles, forget
from services.audits.tables import Audit, Photo, Recommendation
from shared.auth.keys import Principal
from shared.contracts.events.audits import PhotoAdded, PhotoDeleted, PhotoState
from shared.contracts.vocabulary import RecommendationStatus
from shared.db.uow import UnitOfWork
from shared.errors import Conflict, InvalidField, NotFound, Problem
from shared.web.pagination import PageParams

log = logging.getLogger(__name__)

# Decoding a large photo takes a few hundred megabytes; two at a time keep a small server's memory bounded.
_DECODING = asyncio.Semaphore(2)


class UnsupportedImage(Problem):
    status, type, title = 415, "unsupported-media-type", "Not a JPEG or PNG image"


class ImageTooLarge(Problem):
    status, type, title = 413, "payload-too-large", "Image too large"


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str | None = None
    kind: PhotoKind | None = None
    caption: str | None = None
    taken_at: datetime | None = None
    location: dict[str, Any] | None = None


@dataclass(frozen=True)
class Owner:
    """What a photo belongs to: an audit, or a recommendation of that audit."""

    audit: Audit
    recommendation: Recommendation | None = None

    @property
    def status(self) -> RecommendationStatus | None:
        return RecommendationStatus(self.recommendation.status) if self.recommendation else None


async def owner_of(
    uow: UnitOfWork,
    principal: Principal,
    *,
    audit_id: uuid.UUID | None = None,
    recommendation_id: uuid.UUID | None = None,
) -> Owner:
    if recommendation_id is not None:
        view = await recommendations.get(uow, principal, recommendation_id)
        return Owner(view.audit, view.recommendation)
    assert audit_id is not None
    return Owner(await audits.visible(uow, principal, audit_id))


def _kind(asked: PhotoKind | None, owner: Owner) -> PhotoKind:
    kind = asked or photos.default_kind(owner.status)
    why = photos.check_kind(kind, owner.status)
    if why and kind is PhotoKind.completion and owner.recommendation is not None:
        raise Conflict(why, field="body.kind")
    if why:
        raise InvalidField(why, field="body.kind")
    return kind


async def _process(data: bytes, limits: photos.Limits) -> photos.Processed:
    try:
        async with _DECODING:
            return await asyncio.to_thread(photos.process, data, limits)
    except PhotoRefused as refused:
        if refused.reason == "type":
            raise UnsupportedImage(str(refused), field="body.file") from refused
        if refused.reason == "pixels":
            raise ImageTooLarge(str(refused), field="body.file") from refused
        raise InvalidField(str(refused), field="body.file") from refused


def _row(photo_id: uuid.UUID, owner: Owner, kind: PhotoKind, upload: Upload, p: photos.Processed) -> Photo:
    exif_point = {"type": "Point", "coordinates": list(p.location)} if p.location else None
    taken_at = upload.taken_at or p.taken_at
    return Photo(
        id=photo_id,
        audit_id=owner.audit.id,
        recommendation_id=owner.recommendation.id if owner.recommendation else None,
        kind=kind,
        caption=upload.caption,
        taken_at=taken_at.astimezone(UTC) if taken_at else None,  # stored and answered in UTC, as everywhere
        taken_at_source="client" if upload.taken_at else ("exif" if p.taken_at else None),
        location=upload.location or exif_point,
        location_source="client" if upload.location else ("exif" if exif_point else None),
        content_type=p.content_type,
        width=p.width,
        height=p.height,
        bytes=len(p.data),
        sha256=p.sha256,
        storage_key=f"audits/{owner.audit.id}/{photo_id}.{p.extension}",
        thumbnail_key=f"audits/{owner.audit.id}/{photo_id}.thumb.jpg",
        original_filename=upload.filename,
    )


async def add(
    uow: UnitOfWork,
    files: PhotoFiles,
    principal: Principal,
    limits: photos.Limits,
    upload: Upload,
    **owner_id: uuid.UUID,
) -> Photo:
    async with uow:  # refuse a key that may not write before spending any work on the image
        owner = await owner_of(uow, principal, **owner_id)
        principal.require_write(owner.audit.partnership_id)
        _kind(upload.kind, owner)
    processed = await _process(upload.data, limits)
    row = _row(uuid.uuid4(), owner, _kind(upload.kind, owner), upload, processed)
    row.uploaded_by = principal.actor
    try:
        await files.put(row.storage_key, processed.data, processed.content_type)
        await files.put(row.thumbnail_key, processed.thumbnail, "image/jpeg")
        async with uow:
            owner = await owner_of(uow, principal, **owner_id)  # it may have changed while the image was read
            row.kind = _kind(upload.kind, owner)
            uow.session.add(row)
            _emit(uow, PhotoAdded, row, owner.audit)
            await uow.commit()
    except BaseException:
        await forget(files, [row.storage_key, row.thumbnail_key])
        raise
    return row


def _emit(uow: UnitOfWork, event: type, row: Photo, audit: Audit) -> None:
    """Photos count in no total; their events are for the audit trail (without the photo's place)."""
    payload = PhotoState.model_validate(row.model_dump(exclude={"location"}))
    uow.emit(event, subject_id=row.id, subject_version=1, partnership_id=audit.partnership_id,
             neighbourhood_id=audit.neighbourhood_id, payload=payload)  # fmt: skip


async def page(
    uow: UnitOfWork, principal: Principal, params: PageParams, kind: PhotoKind | None, **owner_id: uuid.UUID
) -> tuple[Sequence[Photo], str | None]:
    async with uow:
        owner = await owner_of(uow, principal, **owner_id)
        return await store.list_photos(
            uow.session,
            params,
            audit_id=owner.audit.id,
            recommendation_id=owner.recommendation.id if owner.recommendation else None,
            kind=kind,
        )


async def visible(
    uow: UnitOfWork, principal: Principal, photo_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Photo, Audit]:
    async with uow:
        row = await uow.session.get(Photo, photo_id, with_for_update=for_update)
        if row is None:
            raise NotFound(f"photo {photo_id} not found")
        audit: Audit = await load(uow, Audit, row.audit_id)
        principal.ensure_visible([audit.partnership_id], f"photo {photo_id}")
        return row, audit


async def image(
    uow: UnitOfWork, files: PhotoFiles, principal: Principal, photo_id: uuid.UUID, *, thumbnail: bool
) -> tuple[Photo, bytes]:
    row, _ = await visible(uow, principal, photo_id)
    try:
        return row, await files.get(row.thumbnail_key if thumbnail else row.storage_key)
    except MissingFile:
        raise NotFound(f"the file of photo {photo_id} is missing from the photo storage") from None


async def delete(uow: UnitOfWork, files: PhotoFiles, principal: Principal, photo_id: uuid.UUID) -> None:
    async with uow:
        row, audit = await visible(uow, principal, photo_id, for_update=True)
        principal.require_write(audit.partnership_id)
        _emit(uow, PhotoDeleted, row, audit)
        await uow.session.delete(row)
        await uow.commit()
    log.info("photo %s deleted by %s", photo_id, principal.actor)
    await forget(files, [row.storage_key, row.thumbnail_key])
