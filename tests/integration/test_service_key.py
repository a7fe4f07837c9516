"""`cpted dev` issues the services' own reader key once and hands it to every child process."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.dev import Platform, Ports
from cpted.platform import ensure_service_key
from shared.auth import KeyVerifier, Scope
from shared.settings import Settings


async def test_one_reader_key_kept_across_restarts_and_given_to_the_children(
    engine: AsyncEngine, clean: None, tmp_path: Path
) -> None:
    key = await ensure_service_key(engine, tmp_path)
    assert await ensure_service_key(engine, tmp_path) == key
    assert (await KeyVerifier(engine).verify(key)).scope is Scope.reader
    platform = Platform(Settings(var_dir=tmp_path), Ports())
    platform.service_key = key
    assert platform.environment("postgresql://db", "redis://redis")["CPTED_SERVICE_API_KEY"] == key
    configured = Platform(Settings(var_dir=tmp_path, service_api_key="cpted_configured"), Ports(), service_key=key)
    assert configured.environment("postgresql://db", "redis://redis")["CPTED_SERVICE_API_KEY"] == "cpted_configured"
