from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope, issue_key
from shared.db.engine import session_factory
from tests import factories


async def new_key(engine: AsyncEngine, scope: Scope, partnership_ids: list[Any] = (), **kw: Any) -> str:  # type: ignore[assignment]
    async with session_factory(engine)() as session:
        issued = await issue_key(session, name=f"test {scope}", scope=scope, partnership_ids=partnership_ids, **kw)
        await session.commit()
    return issued.plaintext


async def client_for(app: FastAPI, key: str | None) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
            yield client


@pytest.fixture
async def admin_key(engine: AsyncEngine, clean: None) -> str:
    return await new_key(engine, Scope.admin)


@pytest.fixture
async def audits_api(admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    from services.audits.app import create_app

    async for client in client_for(create_app(), admin_key):
        yield client


@pytest.fixture
async def keyless_audits_api(admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The audits service as a city's 311 system or GIS sees it without a key."""
    from services.audits.app import create_app

    async for client in client_for(create_app(), None):
        yield client


@pytest.fixture
async def metrics_api(admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    from services.metrics.app import create_app

    async for client in client_for(create_app(), admin_key):
        yield client


@pytest.fixture
async def world(audits_api: httpx.AsyncClient) -> dict[str, Any]:
    """Two neighbourhoods, a partnership over both, one audit."""
    n1 = (await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    n2 = (await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    p = (await audits_api.post("/v1/partnerships", json=factories.partnership([n1["id"], n2["id"]]))).json()
    a = (await audits_api.post("/v1/audits", json=factories.audit(p["id"], n1["id"]))).json()
    return {"n1": n1, "n2": n2, "partnership": p, "audit": a}


@pytest.fixture
async def other_editor(engine: AsyncEngine, audits_api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The audits service with an editor key of another partnership than the world's."""
    from services.audits.app import create_app

    n = (await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    p = (await audits_api.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()
    async for client in client_for(create_app(), await new_key(engine, Scope.editor, [p["id"]])):
        yield client


async def schema_errors(client: httpx.AsyncClient, path: str, answer: httpx.Response) -> list[str]:
    """How an answer of ``GET path`` (as written in the OpenAPI document) departs from the schema it promises."""
    document = (await client.get("/openapi.json")).json()
    media = answer.headers["content-type"].split(";")[0]
    schema = document["paths"][path]["get"]["responses"][str(answer.status_code)]["content"][media]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(answer.json())]
