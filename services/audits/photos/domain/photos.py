"""Photos of audited sites and of recommendations: what is accepted, and the copy that is kept.

The type is decided by reading the file with Pillow, never by its name or the
header a client sent. Only JPEG and PNG are opened, and the pixel count is
checked from the image header before a single pixel is decoded, so a small
file claiming a huge canvas (a decompression bomb) costs nothing. The kept copy
is re-encoded from the pixels alone: EXIF (GPS, camera serials), XMP, comments
and text chunks are gone, and the EXIF orientation is applied first so that the
picture still stands the right way up without it.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from PIL import Image, ImageOps, UnidentifiedImageError

from services.audits.photos.domain import exif as photo_exif
from shared.contracts.vocabulary import RecommendationStatus


class PhotoKind(StrEnum):
    site = "site"
    finding = "finding"
    before = "before"
    progress = "progress"
    completion = "completion"
    other = "other"


AUDIT_KINDS = frozenset({PhotoKind.site, PhotoKind.finding, PhotoKind.other})
RECOMMENDATION_KINDS = frozenset(
    {PhotoKind.before, PhotoKind.progress, PhotoKind.completion, PhotoKind.finding, PhotoKind.other}
)
# Pillow names a phone's multi-picture JPEG "MPO"; its first picture is an ordinary JPEG.
_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}


class PhotoRefused(ValueError):
    """An upload that is not kept; ``reason`` is ``type``, ``pixels`` or ``damaged``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    thumbnail_px: int
    local_zone: str


@dataclass(frozen=True)
class Processed:
    content_type: str
    data: bytes
    width: int
    height: int
    thumbnail: bytes
    sha256: str
    taken_at: datetime | None
    location: tuple[float, float] | None

    @property
    def extension(self) -> str:
        return "png" if self.content_type == "image/png" else "jpg"


def default_kind(status: RecommendationStatus | None) -> PhotoKind:
    """Audits get site photos; a recommendation's photo shows it before, during or after the work."""
    if status is None:
        return PhotoKind.site
    if status is RecommendationStatus.implemented:
        return PhotoKind.completion
    return PhotoKind.progress if status is RecommendationStatus.in_progress else PhotoKind.before


def check_kind(kind: PhotoKind, status: RecommendationStatus | None) -> str | None:
    """Why this kind does not fit here, or None when it does."""
    if status is None:
        return None if kind in AUDIT_KINDS else f"an audit's photo is one of {', '.join(sorted(AUDIT_KINDS))}"
    if kind not in RECOMMENDATION_KINDS:
        return f"a recommendation's photo is one of {', '.join(sorted(RECOMMENDATION_KINDS))}"
    if kind is PhotoKind.completion and status is not RecommendationStatus.implemented:
        return f"a completion photo shows finished work, and this recommendation is {status.value}"
    return None


def _open(data: bytes, limits: Limits) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=("JPEG", "PNG"))
    except Image.DecompressionBombError as exc:
        raise PhotoRefused(f"the image has too many pixels (at most {limits.max_pixels:,})", "pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
        raise PhotoRefused("the file is not a JPEG or PNG image", "type") from exc
    if image.format not in _FORMATS:
        raise PhotoRefused("the file is not a JPEG or PNG image", "type")
    width, height = image.size
    if width * height > limits.max_pixels:
        raise PhotoRefused(
            f"the image is {width}x{height} ({width * height:,} pixels); at most {limits.max_pixels:,}", "pixels"
        )
    return image


def _decode(image: Image.Image) -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise PhotoRefused(f"the image is damaged or cut short ({exc})", "damaged") from exc


def _clean_copy(image: Image.Image, content_type: str) -> tuple[Image.Image, bytes]:
    """The pixels the right way up, encoded with no metadata but the colour profile."""
    upright = ImageOps.exif_transpose(image) or image
    icc = image.info.get("icc_profile")
    transparency = image.info.get("transparency")
    upright.info = {}  # nothing read from the original travels into the new file
    out = io.BytesIO()
    if content_type == "image/png":
        extra = {"transparency": transparency} if transparency is not None else {}
        upright.save(out, "PNG", icc_profile=icc, **extra)
    else:
        if upright.mode not in ("RGB", "L"):
            upright, icc = upright.convert("RGB"), None  # a CMYK profile would misdescribe the RGB pixels
        upright.save(out, "JPEG", quality=90, icc_profile=icc)
    return upright, out.getvalue()


def _thumbnail(image: Image.Image, size: int) -> bytes:
    small = image.copy()
    small.thumbnail((size, size))
    if small.mode in ("RGBA", "LA", "P", "PA") or "transparency" in small.info:
        rgba = small.convert("RGBA")
        small = Image.new("RGB", rgba.size, "white")
        small.paste(rgba, mask=rgba.getchannel("A"))
    elif small.mode != "RGB":
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def process(data: bytes, limits: Limits) -> Processed:
    """Check an upload and make the copies to keep. CPU-bound: run it off the event loop."""
    image = _open(data, limits)
    content_type = _FORMATS[image.format or ""]
    _decode(image)
    try:
        exif = image.getexif()
    except Exception:  # damaged metadata costs the place and time, not the photo
        exif = Image.Exif()
    upright, kept = _clean_copy(image, content_type)
    return Processed(
        content_type=content_type,
        data=kept,
        width=upright.width,
        height=upright.height,
        thumbnail=_thumbnail(upright, limits.thumbnail_px),
        sha256=hashlib.sha256(kept).hexdigest(),
        taken_at=photo_exif.taken_at(exif, limits.local_zone),
        location=photo_exif.location(exif),
    )
