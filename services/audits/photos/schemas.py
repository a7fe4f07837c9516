"""Response bodies of the photos API (uploads are multipart forms, declared on the routes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, computed_field

from services.audits.photos.domain.photos import PhotoKind
from shared.contracts.fields import Output
from shared.contracts.geo import PointRead


class PhotoRead(Output):
    id: uuid.UUID
    audit_id: uuid.UUID
    recommendation_id: uuid.UUID | None
    kind: PhotoKind
    caption: str | None
    taken_at: datetime | None
    taken_at_source: Literal["exif", "client"] | None = Field(
        description="exif: read from the photo's own metadata (then removed from the file); client: sent with it"
    )
    location: PointRead | None = Field(description="GeoJSON Point where it was taken")
    location_source: Literal["exif", "client"] | None
    content_type: Literal["image/jpeg", "image/png"]
    width: int
    height: int
    bytes: int
    sha256: str = Field(description="of the stored image, which carries no metadata")
    original_filename: str | None
    uploaded_by: str | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def image_url(self) -> str:
        return f"/v1/photos/{self.id}/image"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def thumbnail_url(self) -> str:
        return f"/v1/photos/{self.id}/thumbnail"
