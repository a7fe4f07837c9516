"""Small factories for test images: photos with EXIF GPS and time, and files that only look like images."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import ExifTags, Image

# 42°18'53.64"N 83°2'11.04"W: downtown Windsor, Ontario.
WINDSOR_LON_LAT = (-83.0364, 42.3149)


def _exif(orientation: int | None, with_offset: bool) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Artist] = "Jane Resident"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (42.0, 18.0, 53.64),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (83.0, 2.0, 11.04),
    }
    details: dict[int, Any] = {ExifTags.Base.DateTimeOriginal: "2026:05:04 14:30:00"}
    if with_offset:
        details[ExifTags.Base.OffsetTimeOriginal] = "-04:00"
    exif[ExifTags.IFD.Exif] = details
    return exif


def jpeg(size: tuple[int, int] = (1200, 800), *, orientation: int | None = None, with_offset: bool = True) -> bytes:
    """A phone-like JPEG: GPS, time, camera and owner in EXIF, and a comment."""
    image = Image.new("RGB", size, (200, 120, 40))
    image.paste((30, 60, 200), (0, 0, size[0] // 2, size[1] // 4))  # a blue block at the top left
    out = io.BytesIO()
    image.save(out, "JPEG", exif=_exif(orientation, with_offset), comment=b"owner: Jane Resident")
    return out.getvalue()


def png(size: tuple[int, int] = (640, 480)) -> bytes:
    """An RGBA PNG with EXIF GPS (eXIf chunk) and a text chunk."""
    from PIL import PngImagePlugin

    image = Image.new("RGBA", size, (10, 200, 90, 180))
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Resident")
    out = io.BytesIO()
    image.save(out, "PNG", exif=_exif(None, True), pnginfo=text)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims ``width`` x ``height`` pixels (a decompression bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to claim ``width`` x ``height``."""
    data = bytearray(jpeg((64, 64)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)
