"""Where photo files live: a small interface, a local directory by default, S3-compatible storage by setting.

Files are written before the row that names them is committed and removed
after the row's deletion is committed, so no row ever names a missing file;
the callers remove the files of a write that did not commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from services.audits.photos.settings import PhotoSettings

log = logging.getLogger(__name__)

# Keys are made by the service (``audits/<uuid>/<uuid>.jpg``); anything else is refused, so no key reaches
# outside the storage root.
_KEY = re.compile(r"^[a-z]+/[0-9a-f-]{36}/[0-9a-f-]{36}(\.thumb)?\.(jpg|png)$")


class MissingFile(LookupError):
    """The storage has no file under this key."""


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a photo key: {key!r}")
    return key


class PhotoFiles(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, keys: Sequence[str]) -> None: ...


class LocalPhotoFiles:
    """One file per key under a directory; each written whole to a temporary name and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".upload-", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)

    def _read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise MissingFile(key) from None

    def _remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, keys: Sequence[str]) -> None:
        await asyncio.to_thread(self._remove, keys)


class S3PhotoFiles:
    """Objects in an S3-compatible bucket; boto3 blocks, so every call runs in a thread."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _read(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + _checked(key))
        except self.client.exceptions.NoSuchKey:
            raise MissingFile(key) from None
        return bytes(answer["Body"].read())

    def _remove(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):  # the most one DeleteObjects request takes
            objects = [{"Key": self.prefix + _checked(k)} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        full = self.prefix + _checked(key)
        await asyncio.to_thread(
            self.client.put_object, Bucket=self.bucket, Key=full, Body=data, ContentType=content_type
        )

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, keys: Sequence[str]) -> None:
        if keys:
            await asyncio.to_thread(self._remove, list(keys))


def photo_files(settings: PhotoSettings, var_dir: Path | None = None) -> PhotoFiles:
    """The storage the settings name; local files go to ``CPTED_PHOTO_DIR``, else to ``<var_dir>/photos``."""
    if settings.storage == "s3":
        if not settings.s3_bucket:
            raise ValueError("CPTED_PHOTO_STORAGE=s3 needs CPTED_PHOTO_S3_BUCKET")
        import boto3  # only deployments that store photos in S3 pay for importing it

        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
        return S3PhotoFiles(client, settings.s3_bucket, settings.s3_prefix)
    root = settings.dir or (var_dir / "photos" if var_dir else None)
    if root is None:
        raise ValueError("local photo storage needs CPTED_PHOTO_DIR or the platform's var_dir")
    return LocalPhotoFiles(root)


async def forget(files: PhotoFiles, keys: Sequence[str]) -> None:
    """Remove the files of rows that are gone or never committed; a failure only leaves files no row names."""
    try:
        await files.delete(keys)
    except Exception:
        log.warning("could not remove photo files %s", list(keys), exc_info=True)
