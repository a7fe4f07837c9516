"""Backups of the platform and their restore (``cpted backup``, ``cpted restore``).

A backup is a folder holding ``database.dump`` (one ``pg_dump -Fc`` of the whole database: every schema
from one snapshot, so the metrics projections, the event ids they applied and the producers' outboxes agree),
the photo files under ``photos/`` (local storage; S3 objects are listed with their ETags and sizes, the bucket
keeps them) and ``manifest.json``, written last: a folder without one is no backup. The manifest holds the
platform version, every schema's alembic revision, each outbox's last and published positions, the metrics
log positions, taken in the dump's own snapshot, and the sha256 of every file.

Restore checks everything before it changes anything (manifest, versions, checksums, an empty target unless
forced), restores into a fresh database beside the target, migrates it forward, brings the projections up
to the restored outboxes (reconcile: every outbox event the projections lack is applied, recognised by id, as
``cpted reconcile`` does), and only then swaps it in under the target's name. The outboxes keep the mark of
what was published (``outbox_published``), so relays publish only what was never published; the bus streams
are deleted, since their entries are either applied already or belong to writes after the backup, which the
restore undoes.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from alembic.script import ScriptDirectory
from packaging.version import Version
from sqlalchemy import MetaData, pool
from sqlalchemy.ext.asyncio import create_async_engine

from cpted import pgtools
from cpted.platform import migrate
from cpted.schemas import SCHEMAS
from services.audits.photos.settings import PhotoSettings
from services.metrics.projection.projector import apply_events
from services.metrics.totals.store import log_positions
from shared.bus.client import redis_client
from shared.bus.outbox import outbox_table, publication_sql, read_log
from shared.contracts.events import parse_event
from shared.contracts.events.envelope import PRODUCERS
from shared.db.engine import async_url, plain_url, session_factory
from shared.db.migrations import alembic_config
from shared.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
PHOTOS = "photos"
PAGE = 2000


class BackupRefused(RuntimeError):
    """The backup cannot be taken or restored as asked; the message names what is wrong."""


def platform_version() -> str:
    return importlib.metadata.version("cpted-platform")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _photo_root(settings: Settings, photos: PhotoSettings) -> Path:
    return photos.dir or settings.var_dir / PHOTOS


def _s3(photos: PhotoSettings) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=photos.s3_endpoint_url, region_name=photos.s3_region)


# -- backup ------------------------------------------------------------------------------------------------


async def _snapshot_facts(conn: asyncpg.Connection) -> dict[str, Any]:
    """What the manifest says of the database, read in the dump's snapshot."""
    revisions = {
        schema: sorted(r["version_num"] for r in await conn.fetch(f"SELECT version_num FROM {schema}.alembic_version"))
        for _, schema in SCHEMAS
    }
    outboxes = {}
    for source in PRODUCERS:
        row = await conn.fetchrow(publication_sql(source))
        outboxes[source] = {
            "last_position": row["last"],
            "published_position": row["published"],
            "unpublished": row["unpublished"],
        }
    logs = {r["source"]: r["applied_through"] for r in await conn.fetch("SELECT * FROM metrics.log_position")}
    keys = [k for r in await conn.fetch("SELECT storage_key, thumbnail_key FROM audits.photo") for k in r]
    return {"schemas": revisions, "outboxes": outboxes, "log_positions": logs, "photo_keys": sorted(keys)}


def _copy_hashed(source: Path, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def _back_up_photos(settings: Settings, photos: PhotoSettings, keys: list[str], folder: Path) -> dict[str, Any]:
    """The photo files the snapshot's rows name: copied with their sha256 (local), or listed (S3).
    A file removed since the snapshot (its photo deleted) is listed as missing."""
    if photos.storage == "s3":
        client, objects, missing = _s3(photos), {}, []
        for key in keys:
            try:
                head = client.head_object(Bucket=photos.s3_bucket, Key=photos.s3_prefix + key)
            except client.exceptions.ClientError:
                missing.append(key)
                continue
            objects[key] = {"etag": head["ETag"].strip('"'), "bytes": head["ContentLength"]}
        return {"storage": "s3", "bucket": photos.s3_bucket, "prefix": photos.s3_prefix, "objects": objects,
                "missing": missing}  # fmt: skip
    root, files, missing = _photo_root(settings, photos), {}, []
    for key in keys:
        if (root / key).is_file():
            files[key] = _copy_hashed(root / key, folder / PHOTOS / key)
        else:
            missing.append(key)
    return {"storage": "local", "files": files, "missing": missing}


async def backup(settings: Settings, photos: PhotoSettings, to: Path) -> Path:
    """Back up the database and the photo store into a new folder under ``to``; returns the folder."""
    url = settings.resolved_database_url()
    major = await pgtools.server_major(url)
    pg_dump = pgtools.tool("pg_dump", major, settings.pg_bin_dir)
    created = datetime.now(UTC)
    folder = to / f"cpted-{created:%Y%m%dT%H%M%S%fZ}"
    folder.mkdir(parents=True)
    try:
        return await _back_up_into(folder, settings, photos, created, major, pg_dump)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


async def _back_up_into(
    folder: Path, settings: Settings, photos: PhotoSettings, created: datetime, major: int, pg_dump: Path
) -> Path:
    url = settings.resolved_database_url()
    conn = await asyncpg.connect(plain_url(url))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            facts = await _snapshot_facts(conn)
            dump = [str(pg_dump), "-Fc", f"--snapshot={snapshot}", "-f", str(folder / DUMP), "-d", plain_url(url)]
            await asyncio.to_thread(pgtools.run, dump)
    finally:
        await conn.close()
    keys = facts.pop("photo_keys")
    manifest = {
        "format": FORMAT,
        "platform_version": platform_version(),
        "created_at": created.isoformat(),
        "postgres_major": major,
        "database": {"file": DUMP, "sha256": sha256_of(folder / DUMP), "bytes": (folder / DUMP).stat().st_size},
        **facts,
        "photos": await asyncio.to_thread(_back_up_photos, settings, photos, keys, folder),
    }
    written = folder / f".{MANIFEST}"
    written.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(written, folder / MANIFEST)
    return folder


# -- checks before a restore ---------------------------------------------------------------------------------


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupRefused(f"{folder} is no backup: it has no {MANIFEST} (an interrupted backup has none)")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupRefused(f"{path}: format {manifest.get('format')!r}, this code reads format {FORMAT}")
    return manifest


def check_versions(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Refuse a backup of a newer platform; returns the schemas whose revision is older than the code's head."""
    theirs, ours = manifest["platform_version"], platform_version()
    if Version(theirs) > Version(ours):
        raise BackupRefused(f"the backup is of platform version {theirs}, newer than this code's {ours}")
    older: dict[str, list[str]] = {}
    for location, schema in SCHEMAS:
        script = ScriptDirectory.from_config(alembic_config(location, schema))
        revisions = manifest["schemas"].get(schema, [])
        for revision in revisions:
            if not _known(script, revision):
                raise BackupRefused(
                    f"schema {schema} of the backup is at revision {revision}, which this code does not know: "
                    f"the backup is of a newer version"
                )
        if set(revisions) != set(script.get_heads()):
            older[schema] = revisions
    return older


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic's own lookup errors: an unknown or partial revision id
        return False


def verify(folder: Path, manifest: dict[str, Any]) -> None:
    """Every file of the backup present, with the sha256 the manifest holds."""
    expected = {manifest["database"]["file"]: manifest["database"]["sha256"]}
    expected |= {f"{PHOTOS}/{key}": digest for key, digest in manifest["photos"].get("files", {}).items()}
    bad = []
    for name, digest in expected.items():
        path = folder / name
        if not path.is_file():
            bad.append(f"{name} is missing")
        elif sha256_of(path) != digest:
            bad.append(f"{name} does not match its sha256")
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise BackupRefused(f"the backup in {folder} is damaged: {'; '.join(bad[:3])}{more}")


async def holds_data(url: str) -> bool:
    """Whether the database has a row in any of the platform's tables (a migrated, unused one has none)."""
    if not await pgtools.exists(url):
        return False
    conn = await asyncpg.connect(plain_url(url))
    try:
        tables = await conn.fetch(
            "SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables "
            "WHERE table_schema = ANY($1) AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'",
            [schema for _, schema in SCHEMAS],
        )
        for table in tables:
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table['name']})"):
                return True
        return False
    finally:
        await conn.close()


def _check_s3_objects(photos: PhotoSettings, listed: dict[str, Any]) -> None:
    client, wrong = _s3(photos), []
    for key, held in listed["objects"].items():
        try:
            head = client.head_object(Bucket=listed["bucket"], Key=listed["prefix"] + key)
        except client.exceptions.ClientError:
            wrong.append(f"{key} is missing")
            continue
        if head["ETag"].strip('"') != held["etag"]:
            wrong.append(f"{key} has changed")
    if wrong:
        raise BackupRefused(f"the bucket {listed['bucket']} lacks photos of the backup: {'; '.join(wrong[:3])}")


# -- restore ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    migrated: dict[str, list[str]]
    """Schemas that were older than the code, with the revisions they were at."""
    caught_up: int
    """Outbox events the backed-up projections lacked, applied during the restore."""
    photos: int
    replaced: bool
    """Whether a database with data was replaced (``force``)."""


async def catch_up_projections(url: str, zone: str) -> int:
    """Apply to the metrics projections every event of the producers' outboxes they lack (by id), from the
    position up to which the log watch found every event applied; record each log as applied to its end.
    Returns how many events were new."""
    engine = create_async_engine(async_url(url), poolclass=pool.NullPool)
    applied = 0
    try:
        for source in PRODUCERS:
            table = outbox_table(MetaData(schema=source))
            async with engine.connect() as conn:
                after = await log_positions.applied_through(conn, source)
            while True:
                async with session_factory(engine)() as session:
                    page = await read_log(session, table, after, PAGE, gap_timeout_s=0)
                if not page.items:
                    break
                async with engine.begin() as conn:
                    applied += await apply_events(conn, [parse_event(i["event"]) for i in page.items], zone=zone)
                after = page.items[-1]["position"]
            async with engine.begin() as conn:
                await log_positions.record(conn, source, applied_through=after, behind=0)
    finally:
        await engine.dispose()
    return applied


def _stage_photos(folder: Path, manifest: dict[str, Any], root: Path) -> Path:
    staged = root.with_name(root.name + ".restoring")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for key in manifest["photos"]["files"]:
        (staged / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / PHOTOS / key, staged / key)
    return staged


def _put_photos_in_place(staged: Path, root: Path) -> None:
    old = root.with_name(root.name + ".replaced")
    shutil.rmtree(old, ignore_errors=True)
    if root.exists():
        os.replace(root, old)
    os.replace(staged, root)
    shutil.rmtree(old, ignore_errors=True)


async def _forget_streams(settings: Settings) -> None:
    redis = redis_client(settings)
    try:
        await redis.delete(*settings.all_streams(PRODUCERS))
    finally:
        await redis.aclose()


@dataclass(frozen=True)
class _Plan:
    manifest: dict[str, Any]
    older: dict[str, list[str]]
    replacing: bool
    pg_restore: Path


async def _plan(folder: Path, settings: Settings, photos: PhotoSettings, force: bool) -> _Plan:
    """Every check a restore makes before it changes anything."""
    manifest = read_manifest(folder)
    older = check_versions(manifest)
    await asyncio.to_thread(verify, folder, manifest)
    listed = manifest["photos"]
    if listed["storage"] != photos.storage:
        raise BackupRefused(
            f"the backup's photos are in {listed['storage']} storage, the platform's in {photos.storage}"
        )
    url = settings.resolved_database_url()
    replacing = await holds_data(url)
    if replacing and not force:
        raise BackupRefused(
            f"database {pgtools.database_name(url)} holds data: restore into an empty database, "
            f"or pass --force to replace it"
        )
    major = await pgtools.server_major(url)
    if manifest["postgres_major"] > major:
        raise BackupRefused(
            f"the backup was dumped from PostgreSQL {manifest['postgres_major']}, the server is {major}"
        )
    if listed["storage"] == "s3":
        await asyncio.to_thread(_check_s3_objects, photos, listed)
    return _Plan(manifest, older, replacing, pgtools.tool("pg_restore", major, settings.pg_bin_dir))


async def restore(folder: Path, settings: Settings, photos: PhotoSettings, *, force: bool = False) -> Restored:
    """Restore the backup in ``folder`` over the configured database and photo store (see the module's notes)."""
    plan = await _plan(folder, settings, photos, force)
    url = settings.resolved_database_url()
    name = pgtools.database_name(url)
    staging = pgtools.with_database(url, f"{name}_restoring")
    root = _photo_root(settings, photos)
    listed = plan.manifest["photos"]
    staged: Path | None = None
    await pgtools.recreate(staging)
    try:
        args = [str(plan.pg_restore), "--no-owner", "--no-acl", "--exit-on-error", "-d", staging, str(folder / DUMP)]
        await asyncio.to_thread(pgtools.run, args)
        await migrate(staging)
        caught_up = await catch_up_projections(staging, settings.local_timezone)
        if listed["storage"] == "local":
            staged = await asyncio.to_thread(_stage_photos, folder, plan.manifest, root)
        await pgtools.swap(staging, url, f"{name}_replaced")
    except BaseException:
        await pgtools.drop(staging)
        if staged:
            shutil.rmtree(staged, ignore_errors=True)
        raise
    await pgtools.drop(pgtools.with_database(url, f"{name}_replaced"))
    if staged:
        await asyncio.to_thread(_put_photos_in_place, staged, root)
    await _forget_streams(settings)
    count = len(listed.get("files") or listed.get("objects") or {})
    return Restored(plan.older, caught_up, count, plan.replacing)
