"""Photo checks and the cleaned copy, without a database."""

from __future__ import annotations

import io
import time

import pytest
from PIL import ExifTags, Image

from services.audits.photos.domain import exif as photo_exif
from services.audits.photos.domain import photos
from services.audits.photos.domain.photos import PhotoKind, PhotoRefused
from shared.contracts.vocabulary import RecommendationStatus
from tests import images

LIMITS = photos.Limits(max_pixels=50_000_000, thumbnail_px=320, local_zone="America/Toronto")


def _read(exif: Image.Exif) -> Image.Exif:
    """The EXIF as a file carries it, read back."""
    parsed = Image.Exif()
    parsed.load(exif.tobytes())
    return parsed


def test_a_winter_photo_without_offset_is_read_in_eastern_standard_time() -> None:
    exif = Image.Exif()
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: "2026:01:15 08:00:00"}
    assert photo_exif.taken_at(_read(exif), "America/Toronto").isoformat() == "2026-01-15T08:00:00-05:00"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        ({1: "S", 2: (33.0, 51.0, 36.0), 3: "E", 4: (151.0, 12.0, 36.0)}, (151.21, -33.86)),
        ({1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)}, None),  # no fix
        ({1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (10.0, 0.0, 0.0)}, None),  # not on Earth
        ({1: "N", 2: (42.0, 18.0), 3: "E", 4: (10.0, 0.0, 0.0)}, None),  # not degrees, minutes, seconds
    ],
)
def test_gps_positions(gps: dict[int, object], expected: tuple[float, float] | None) -> None:
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = gps
    assert photo_exif.location(_read(exif)) == expected


def test_an_unreadable_time_is_no_time() -> None:
    exif = Image.Exif()
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: "0000:00:00 00:00:00"}
    assert photo_exif.taken_at(_read(exif), "America/Toronto") is None


def test_a_200_megapixel_claim_is_refused_from_the_header_alone() -> None:
    started = time.perf_counter()
    with pytest.raises(PhotoRefused) as refused:
        photos.process(images.png_claiming(20_000, 10_000), LIMITS)
    assert refused.value.reason == "pixels"
    assert time.perf_counter() - started < 0.5  # decoding 200 million pixels would take seconds and 600 MB


def test_the_kept_copy_has_no_metadata_and_the_thumbnail_fits() -> None:
    done = photos.process(images.jpeg((2000, 1000)), LIMITS)
    kept = Image.open(io.BytesIO(done.data))
    assert kept.format == "JPEG" and not kept.getexif() and "comment" not in kept.info
    thumb = Image.open(io.BytesIO(done.thumbnail))
    assert thumb.size == (320, 160)
    assert done.location == images.WINDSOR_LON_LAT and done.extension == "jpg"


def test_a_transparent_png_gets_a_white_backed_jpeg_thumbnail() -> None:
    done = photos.process(images.png(), LIMITS)
    assert done.content_type == "image/png" and done.extension == "png"
    thumb = Image.open(io.BytesIO(done.thumbnail))
    assert thumb.mode == "RGB" and thumb.format == "JPEG"


def test_other_image_formats_are_refused() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(PhotoRefused) as refused:
        photos.process(gif.getvalue(), LIMITS)
    assert refused.value.reason == "type"


@pytest.mark.parametrize(
    ("status", "kind", "fits"),
    [
        (None, PhotoKind.site, True),
        (None, PhotoKind.completion, False),
        (RecommendationStatus.in_progress, PhotoKind.completion, False),
        (RecommendationStatus.implemented, PhotoKind.completion, True),
        (RecommendationStatus.proposed, PhotoKind.site, False),
    ],
)
def test_which_kind_fits_where(status: RecommendationStatus | None, kind: PhotoKind, fits: bool) -> None:
    assert (photos.check_kind(kind, status) is None) is fits


def test_default_kinds_follow_the_status() -> None:
    assert photos.default_kind(None) is PhotoKind.site
    assert photos.default_kind(RecommendationStatus.accepted) is PhotoKind.before
    assert photos.default_kind(RecommendationStatus.in_progress) is PhotoKind.progress
    assert photos.default_kind(RecommendationStatus.implemented) is PhotoKind.completion
