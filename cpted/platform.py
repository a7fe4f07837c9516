"""Preparing a database for the platform: migrations, the dev key, the demo data."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.schemas import SCHEMAS
from shared import migrations
from shared.auth import Scope, issue_key, key_is_valid
from shared.db import session_factory

DEV_KEY_FILE = "dev-api-key"


async def migrate(database_url: str) -> None:
    await migrations.upgrade(database_url, SCHEMAS)


async def ensure_dev_key(engine: AsyncEngine, var_dir: Path) -> str:
    """The dev admin key: the one in ``<var>/dev-api-key`` while it is valid, else a new one."""
    path = var_dir / DEV_KEY_FILE
    async with session_factory(engine)() as session:
        if path.exists():
            plaintext = path.read_text().strip()
            if plaintext and await key_is_valid(session, plaintext):
                return plaintext
        issued = await issue_key(session, name="dev admin (make run)", scope=Scope.admin)
        await session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(issued.plaintext + "\n")
    path.chmod(0o600)
    return issued.plaintext
