"""The photo storage interface: the local backend on a temporary directory, S3 through a stand-in client."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from services.audits.photos.settings import PhotoSettings
from services.audits.photos.store.files import LocalPhotoFiles, MissingFile, PhotoFiles, S3PhotoFiles, photo_files


def _key(suffix: str = ".jpg") -> str:
    return f"audits/{uuid.uuid4()}/{uuid.uuid4()}{suffix}"


class FakeS3:
    """The few calls of boto3's S3 client the backend makes, in memory (no network)."""

    class exceptions:
        class NoSuchKey(Exception):
            pass

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[(Bucket, Key)] = (Body, ContentType)

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            raise self.exceptions.NoSuchKey()
        body = self.objects[(Bucket, Key)][0]
        return {"Body": type("Body", (), {"read": lambda self: body})()}

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any]) -> None:
        for item in Delete["Objects"]:
            self.objects.pop((Bucket, item["Key"]), None)


@pytest.fixture(params=["local", "s3"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> PhotoFiles:
    if request.param == "local":
        return LocalPhotoFiles(tmp_path)
    return S3PhotoFiles(FakeS3(), "city-photos", "cpted/")


async def test_put_get_delete(files: PhotoFiles) -> None:
    key, thumb = _key(), _key(".thumb.jpg")
    await files.put(key, b"image bytes", "image/jpeg")
    await files.put(thumb, b"small", "image/jpeg")
    assert await files.get(key) == b"image bytes"
    await files.delete([key, thumb])
    with pytest.raises(MissingFile):
        await files.get(key)
    await files.delete([key])  # deleting what is gone is no error


@pytest.mark.parametrize("key", ["../../etc/passwd", "audits/x/y.jpg", "/abs/path.jpg", "audits/../../a.jpg"])
async def test_only_keys_the_service_makes_are_accepted(files: PhotoFiles, key: str) -> None:
    with pytest.raises(ValueError):
        await files.put(key, b"x", "image/jpeg")


async def test_local_files_are_written_whole(tmp_path: Path) -> None:
    local = LocalPhotoFiles(tmp_path)
    key = _key()
    await local.put(key, b"x" * 100_000, "image/jpeg")
    assert [p.name for p in (tmp_path / key).parent.iterdir()] == [Path(key).name]  # no temporary file left


def test_the_backend_is_chosen_by_setting(tmp_path: Path) -> None:
    assert isinstance(photo_files(PhotoSettings(dir=tmp_path)), LocalPhotoFiles)
    with pytest.raises(ValueError, match="S3_BUCKET"):
        photo_files(PhotoSettings(storage="s3"))
    s3 = photo_files(PhotoSettings(storage="s3", s3_bucket="b", s3_endpoint_url="http://127.0.0.1:9", s3_region="x"))
    assert isinstance(s3, S3PhotoFiles) and s3.prefix == "photos/"
