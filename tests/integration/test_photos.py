"""Photos on real PostgreSQL, files in a local directory: EXIF read then stripped, thumbnails, limits, cleanup."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from tests import factories, images
from tests.integration.conftest import client_for, new_key


@pytest.fixture(autouse=True)
def photo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from services.audits.photos.settings import get_photo_settings

    monkeypatch.setenv("CPTED_PHOTO_DIR", str(tmp_path / "photos"))
    get_photo_settings.cache_clear()
    yield tmp_path / "photos"
    get_photo_settings.cache_clear()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def _upload(client: httpx.AsyncClient, path: str, data: bytes, name: str = "IMG_0001.jpg", **form: str) -> Any:
    return await client.post(path, files={"file": (name, data, "image/jpeg")}, data=form)


async def _photo_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM audits.photo"))).scalar_one())


async def test_exif_place_and_time_are_read_then_stripped_and_a_thumbnail_made(
    audits_api: httpx.AsyncClient, world: dict[str, Any], photo_dir: Path
) -> None:
    audit_id = world["audit"]["id"]
    r = await _upload(audits_api, f"/v1/audits/{audit_id}/photos", images.jpeg(), caption="Dark alley, north end")
    assert r.status_code == 201, r.text
    photo = r.json()
    assert r.headers["location"] == f"/v1/photos/{photo['id']}"
    assert photo["location"] == {"type": "Point", "coordinates": list(images.WINDSOR_LON_LAT)}
    assert photo["location_source"] == "exif" and photo["taken_at_source"] == "exif"
    assert photo["taken_at"] == "2026-05-04T18:30:00Z"  # 14:30 at -04:00, as the camera said
    assert photo["kind"] == "site" and photo["caption"] == "Dark alley, north end"
    assert (photo["width"], photo["height"], photo["content_type"]) == (1200, 800, "image/jpeg")
    assert photo["original_filename"] == "IMG_0001.jpg" and photo["uploaded_by"].startswith("key:")

    stored = await audits_api.get(photo["image_url"])
    assert stored.status_code == 200 and stored.headers["content-type"] == "image/jpeg"
    assert len(stored.content) == photo["bytes"]
    for secret in (b"Exif", b"TestCam", b"Jane Resident", b"owner:"):
        assert secret not in stored.content
    kept = Image.open(io.BytesIO(stored.content))
    assert not kept.getexif() and kept.size == (1200, 800)

    thumb = await audits_api.get(photo["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    small = Image.open(io.BytesIO(thumb.content))
    assert small.format == "JPEG" and max(small.size) == 320 and not small.getexif()
    assert len(_files(photo_dir)) == 2

    listed = (await audits_api.get(f"/v1/audits/{audit_id}/photos")).json()
    assert [p["id"] for p in listed["items"]] == [photo["id"]]


async def test_the_exif_time_keeps_its_offset_and_orientation_is_applied(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    r = await _upload(audits_api, f"/v1/audits/{world['audit']['id']}/photos", images.jpeg(orientation=6))
    photo = r.json()
    assert photo["taken_at"] == "2026-05-04T18:30:00Z"
    assert (photo["width"], photo["height"]) == (800, 1200)  # stands upright without the orientation tag
    no_offset = await _upload(audits_api, f"/v1/audits/{world['audit']['id']}/photos", images.jpeg(with_offset=False))
    # No offset in the EXIF: the camera's wall clock, read in the programme's zone (EDT in May).
    assert no_offset.json()["taken_at"] == "2026-05-04T18:30:00Z"


async def test_a_png_is_kept_as_png_without_its_metadata(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    r = await _upload(audits_api, f"/v1/audits/{world['audit']['id']}/photos", images.png(), name="plan.png")
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["content_type"] == "image/png" and photo["location_source"] == "exif"
    stored = (await audits_api.get(photo["image_url"])).content
    assert b"eXIf" not in stored and b"Jane Resident" not in stored
    assert Image.open(io.BytesIO(stored)).mode == "RGBA"


async def test_what_the_client_sends_wins_over_exif(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    point = '{"type": "Point", "coordinates": [-83.01, 42.3]}'
    r = await _upload(
        audits_api,
        f"/v1/audits/{world['audit']['id']}/photos",
        images.jpeg(),
        location=point,
        taken_at="2026-05-05T09:00:00-04:00",
        kind="finding",
    )
    photo = r.json()
    assert photo["location"]["coordinates"] == [-83.01, 42.3] and photo["location_source"] == "client"
    assert photo["taken_at_source"] == "client" and photo["kind"] == "finding"


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"Dear committee,\nplease find the minutes attached.\n", 415, "not a JPEG or PNG"),
        (images.png_claiming(20_000, 10_000), 413, "too many pixels"),
        (images.jpeg_claiming(20_000, 10_000), 413, "pixels"),
        (images.png_claiming(10_000, 6_000), 413, "60,000,000 pixels"),
        (images.jpeg()[:2500], 422, "damaged or cut short"),
    ],
    ids=["text-renamed-jpg", "200-megapixel-png", "200-megapixel-jpeg", "60-megapixel-png", "truncated"],
)
async def test_bad_files_get_a_clear_answer_and_nothing_is_stored(
    audits_api: httpx.AsyncClient,
    world: dict[str, Any],
    engine: AsyncEngine,
    photo_dir: Path,
    data: bytes,
    status: int,
    words: str,
) -> None:
    r = await _upload(audits_api, f"/v1/audits/{world['audit']['id']}/photos", data, name="site.jpg")
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert words in r.json()["detail"] and r.json()["errors"][0]["field"] == "body.file"
    assert await _photo_rows(engine) == 0 and _files(photo_dir) == []


async def test_an_upload_over_the_size_limit_is_refused(
    audits_api: httpx.AsyncClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, photo_dir: Path
) -> None:
    from services.audits.photos.settings import get_photo_settings

    monkeypatch.setattr(get_photo_settings(), "max_bytes", 10_000)
    r = await _upload(audits_api, f"/v1/audits/{world['audit']['id']}/photos", images.jpeg())
    assert r.status_code == 413 and "exceeds 10,000 bytes" in r.json()["detail"]
    assert _files(photo_dir) == []


async def test_a_completion_photo_needs_an_implemented_recommendation(
    audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    rec = await audits_api.post(f"/v1/audits/{world['audit']['id']}/recommendations", json=factories.recommendation())
    path = f"/v1/recommendations/{rec.json()['id']}/photos"
    early = await _upload(audits_api, path, images.jpeg(), kind="completion")
    assert early.status_code == 409 and "proposed" in early.json()["detail"]
    assert (await _upload(audits_api, path, images.jpeg())).json()["kind"] == "before"
    for to, on in (("accepted", "2025-05-01"), ("in_progress", "2025-06-01"), ("implemented", "2025-07-01")):
        await audits_api.post(f"/v1/recommendations/{rec.json()['id']}/transitions", json={"to": to, "on": on})
    done = await _upload(audits_api, path, images.jpeg(), caption="New LED lights")
    assert done.status_code == 201 and done.json()["kind"] == "completion"
    kinds = [p["kind"] for p in (await audits_api.get(path)).json()["items"]]
    assert kinds == ["completion", "before"]
    only = (await audits_api.get(path, params={"kind": "completion"})).json()["items"]
    assert [p["caption"] for p in only] == ["New LED lights"]
    assert (await audits_api.get(f"/v1/audits/{world['audit']['id']}/photos")).json()["items"] == []


async def test_editors_reach_only_their_partnerships_photos(
    audits_api: httpx.AsyncClient, other_editor: httpx.AsyncClient, world: dict[str, Any], photo_dir: Path
) -> None:
    path = f"/v1/audits/{world['audit']['id']}/photos"
    photo = (await _upload(audits_api, path, images.jpeg())).json()
    assert (await _upload(other_editor, path, images.jpeg())).status_code == 404
    assert (await other_editor.get(path)).status_code == 404
    assert (await other_editor.get(photo["image_url"])).status_code == 404
    assert (await other_editor.delete(f"/v1/photos/{photo['id']}")).status_code == 404
    assert len(_files(photo_dir)) == 2


async def test_deleting_a_photo_or_its_audit_removes_rows_and_files(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine, photo_dir: Path
) -> None:
    audit_id = world["audit"]["id"]
    rec = (await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation())).json()
    first = (await _upload(audits_api, f"/v1/audits/{audit_id}/photos", images.jpeg())).json()
    await _upload(audits_api, f"/v1/audits/{audit_id}/photos", images.png(), name="b.png")
    await _upload(audits_api, f"/v1/recommendations/{rec['id']}/photos", images.jpeg())
    assert len(_files(photo_dir)) == 6
    assert (await audits_api.delete(f"/v1/photos/{first['id']}")).status_code == 204
    assert (await audits_api.get(f"/v1/photos/{first['id']}")).status_code == 404
    assert len(_files(photo_dir)) == 4 and await _photo_rows(engine) == 2
    assert (await audits_api.delete(f"/v1/audits/{audit_id}")).status_code == 204
    assert await _photo_rows(engine) == 0 and _files(photo_dir) == []


async def test_a_write_that_does_not_commit_leaves_no_files(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine, photo_dir: Path, monkeypatch: Any
) -> None:
    from shared.db.uow import UnitOfWork

    async def failing_commit(self: UnitOfWork) -> None:
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)
    r = await _upload(audits_api, f"/v1/audits/{world['audit']['id']}/photos", images.jpeg())
    assert r.status_code == 503
    assert await _photo_rows(engine) == 0 and _files(photo_dir) == []


async def test_readers_may_look_but_not_upload(
    engine: AsyncEngine, audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    from services.audits.app import create_app

    path = f"/v1/audits/{world['audit']['id']}/photos"
    await _upload(audits_api, path, images.jpeg())
    async for reader in client_for(create_app(), await new_key(engine, Scope.reader)):
        assert (await _upload(reader, path, images.jpeg())).status_code == 403
        assert len((await reader.get(path)).json()["items"]) == 1


async def test_photo_writes_are_in_the_audit_trail_without_their_place(
    audits_api: httpx.AsyncClient, world: dict[str, Any], photo_dir: Path
) -> None:
    url = f"/v1/audits/{world['audit']['id']}/photos"
    added = (await _upload(audits_api, url, images.jpeg(), caption="dark laneway")).json()
    assert (await audits_api.delete(f"/v1/photos/{added['id']}")).status_code == 204
    trail = (await audits_api.get("/v1/audit-trail", params={"subject_id": added["id"]})).json()["items"]
    assert [entry["type"] for entry in trail] == ["photo.deleted", "photo.added"]
    assert trail[1]["changes"]["caption"] == [None, "dark laneway"]
    assert all("location" not in entry["changes"] for entry in trail)
