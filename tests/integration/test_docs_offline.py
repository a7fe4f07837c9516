"""The documentation pages load every script and style from the service itself, so they render with no internet."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.conftest import client_for

DOCS = {"/docs": "/openapi.json", "/redoc": "/openapi.json"}
PAGES = {"audits": {**DOCS, "/ogc/api.html": "/ogc/api"}, "events": DOCS, "metrics": DOCS}
ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture(params=sorted(PAGES))
async def service(request: pytest.FixtureRequest, admin_key: str) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    module = __import__(f"services.{request.param}.app", fromlist=["create_app"])
    async for client in client_for(module.create_app(), None):
        yield request.param, client


async def test_every_asset_a_docs_page_references_is_served_locally(
    service: tuple[str, httpx.AsyncClient],
) -> None:
    name, client = service
    for page, document in PAGES[name].items():
        answer = await client.get(page)
        assert answer.status_code == 200, page
        assert "content-security-policy" not in answer.headers, page
        assets = ASSET.findall(answer.text)
        assert assets, page
        for url in assets:
            assert url.startswith("/"), f"{page} loads {url} from elsewhere"
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
        assert f"'{document}'" in answer.text or f'"{document}"' in answer.text, page
        assert (await client.get(document)).status_code == 200, document


async def test_the_swagger_page_keeps_the_authorization_it_was_given(
    service: tuple[str, httpx.AsyncClient],
) -> None:
    _, client = service
    assert '"persistAuthorization": true' in (await client.get("/docs")).text
