"""Fixtures of the events service tests: its app, checking partnerships against an in-process audits app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from tests.integration.conftest import client_for, new_key


async def events_client(key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The events app, checking partnerships against an in-process audits app."""
    from services.audits.app import create_app as audits_app
    from services.events.app import create_app

    audits = audits_app()
    async with audits.router.lifespan_context(audits):
        async for client in client_for(create_app(httpx.ASGITransport(app=audits)), key):
            yield client


@pytest.fixture
async def events_api(admin_key: str, audits_api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async for client in events_client(admin_key):
        yield client


@pytest.fixture
async def editor(engine: AsyncEngine, world: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A client with an editor key for the world's partnership only."""
    key = await new_key(engine, Scope.editor, [world["partnership"]["id"]])
    async for client in events_client(key):
        yield client
