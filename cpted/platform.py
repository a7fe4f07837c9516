"""Preparing a database for the platform: migrations, the dev and service keys (the demo data: ``cpted.demo``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.schemas import SCHEMAS
from shared.auth.keys import Scope, issue_key, key_principal
from shared.db import migrations
from shared.db.engine import session_factory

DEV_KEY_FILE = "dev-api-key"
SERVICE_KEY_FILE = "service-api-key"


async def migrate(database_url: str) -> None:
    await migrations.upgrade(database_url, SCHEMAS)


async def ensure_dev_key(engine: AsyncEngine, var_dir: Path) -> str:
    """The dev admin key: the one in ``<var>/dev-api-key`` while it is valid, else a new one."""
    return await _ensure_key(engine, var_dir, DEV_KEY_FILE, "dev admin (make run)", Scope.admin)


async def ensure_service_key(engine: AsyncEngine, var_dir: Path) -> str:
    """The service key the services call each other with on no caller's behalf (``CPTED_SERVICE_API_KEY``)."""
    return await _ensure_key(engine, var_dir, SERVICE_KEY_FILE, "services (make run)", Scope.service)


async def _ensure_key(engine: AsyncEngine, var_dir: Path, file_name: str, name: str, scope: Scope) -> str:
    path = var_dir / file_name
    async with session_factory(engine)() as session:
        if path.exists():
            plaintext = path.read_text().strip()
            held = await key_principal(session, plaintext) if plaintext else None
            if held is not None and held.scope is scope:
                return plaintext
        issued = await issue_key(session, name=name, scope=scope)
        await session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(issued.plaintext + "\n")
    path.chmod(0o600)
    return issued.plaintext
