"""A sync client or a browser asks again with ``If-None-Match`` and gets a bodiless 304 while nothing changed."""

from __future__ import annotations

from typing import Any

import httpx

from tests import factories


async def test_a_record_answers_304_until_it_changes(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    url = f"/v1/audits/{world['audit']['id']}"
    first = await audits_api.get(url)
    assert first.headers["cache-control"] == "private, no-cache"
    tag = first.headers["etag"]
    again = await audits_api.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag
    assert "content-type" not in again.headers
    changed = await audits_api.patch(url, json={"site_name": "Laneway behind the arena"}, headers={"If-Match": tag})
    assert changed.status_code == 200
    after = await audits_api.get(url, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.json()["site_name"] == "Laneway behind the arena"


async def test_a_list_answers_304_until_an_item_is_added(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    first = await audits_api.get("/v1/neighbourhoods")
    tag = first.headers["etag"]
    assert tag.startswith('W/"')
    assert (await audits_api.get("/v1/neighbourhoods", headers={"If-None-Match": tag})).status_code == 304
    assert (await audits_api.get("/v1/neighbourhoods", headers={"If-None-Match": f'"other", {tag}'})).status_code == 304
    await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())
    after = await audits_api.get("/v1/neighbourhoods", headers={"If-None-Match": tag})
    assert after.status_code == 200 and len(after.json()["items"]) == 3


async def test_errors_and_writes_are_never_cached(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    missing = await audits_api.get("/v1/audits/00000000-0000-4000-8000-000000000000", headers={"If-None-Match": "*"})
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    created = await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"


async def test_a_304_is_given_only_to_a_key_that_may_read_the_record(
    audits_api: httpx.AsyncClient, keyless_audits_api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    url = f"/v1/audits/{world['audit']['id']}"
    tag = (await audits_api.get(url)).headers["etag"]
    assert (await keyless_audits_api.get(url, headers={"If-None-Match": tag})).status_code == 401
