"""What a photo's EXIF says about where and when it was taken.

Read before the metadata is stripped from the stored copy: the place and the
time become fields of the photo record, and nothing else of the EXIF block
(camera serial numbers, owner names, thumbnails) is kept anywhere.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image

_STAMP = "%Y:%m:%d %H:%M:%S"


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    """Degrees, minutes, seconds (rationals) and a hemisphere letter as signed decimal degrees."""
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(x == x for x in (d, m, s)):  # NaN from a 0/0 rational
        return None
    decimal = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -decimal if str(ref).strip().upper() == negative else decimal


def _block(exif: Image.Exif, ifd: ExifTags.IFD) -> dict[int, Any]:
    """A nested EXIF block; a damaged one reads as empty, since the picture itself may be fine."""
    try:
        return dict(exif.get_ifd(ifd))
    except Exception:
        return {}


def location(exif: Image.Exif) -> tuple[float, float] | None:
    """``(longitude, latitude)`` from the GPS block, or None when absent, out of range or at 0,0 (no fix)."""
    gps = _block(exif, ExifTags.IFD.GPSInfo)
    if not gps:
        return None
    lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
    lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None
    return (round(lon, 7), round(lat, 7))


def _offset(text: Any) -> timezone | None:
    """An EXIF ``OffsetTimeOriginal`` such as ``-05:00``."""
    if not isinstance(text, str) or len(text.strip()) != 6:
        return None
    text = text.strip()
    try:
        sign = -1 if text[0] == "-" else 1
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def taken_at(exif: Image.Exif, local_zone: str) -> datetime | None:
    """When the shutter fired: ``DateTimeOriginal`` with its offset, else read as local time of the programme.

    Cameras without an offset tag keep local wall-clock time, so the programme's own zone is the best guess.
    """
    details = _block(exif, ExifTags.IFD.Exif)
    stamp = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(stamp, str):
        return None
    try:
        naive = datetime.strptime(stamp.strip().rstrip("\x00"), _STAMP)
    except ValueError:
        return None
    if not 1900 <= naive.year <= 2100:
        return None
    zone = _offset(details.get(ExifTags.Base.OffsetTimeOriginal)) or ZoneInfo(local_zone)
    return naive.replace(tzinfo=zone)
