"""`cpted dev` issues the services' own service key once and hands it to every child process."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.dev import Platform, Ports
from cpted.platform import ensure_service_key
from shared.auth.keys import KeyVerifier, Scope, issue_key
from shared.db.engine import session_factory
from shared.settings import Settings


async def test_one_service_key_kept_across_restarts_and_given_to_the_children(
    engine: AsyncEngine, clean: None, tmp_path: Path
) -> None:
    key = await ensure_service_key(engine, tmp_path)
    assert await ensure_service_key(engine, tmp_path) == key
    assert (await KeyVerifier(engine).verify(key)).scope is Scope.service
    platform = Platform(Settings(var_dir=tmp_path), Ports())
    platform.service_key = key
    assert platform.environment("postgresql://db", "redis://redis")["CPTED_SERVICE_API_KEY"] == key
    configured = Platform(Settings(var_dir=tmp_path, service_api_key="cpted_configured"), Ports(), service_key=key)
    assert configured.environment("postgresql://db", "redis://redis")["CPTED_SERVICE_API_KEY"] == "cpted_configured"


async def test_a_reader_key_left_by_an_older_version_is_replaced_by_a_service_key(
    engine: AsyncEngine, clean: None, tmp_path: Path
) -> None:
    async with session_factory(engine)() as session:
        older = (await issue_key(session, name="services (make run)", scope=Scope.reader)).plaintext
        await session.commit()
    (tmp_path / "service-api-key").write_text(older + "\n")
    key = await ensure_service_key(engine, tmp_path)
    assert key != older
    assert (await KeyVerifier(engine).verify(key)).scope is Scope.service
