"""A city system keeps a copy: it asks only for what changed since its last sync, in the order things changed."""

from __future__ import annotations

from typing import Any

import httpx

from tests import factories


async def _names(api: httpx.AsyncClient, **params: Any) -> list[str]:
    answer = await api.get("/v1/neighbourhoods", params=params)
    assert answer.status_code == 200, answer.text
    return [n["name"] for n in answer.json()["items"]]


async def test_updated_since_returns_only_what_changed_in_change_order(audits_api: httpx.AsyncClient) -> None:
    made = [(await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json() for _ in range(4)]
    mark = max(n["updated_at"] for n in made)
    assert await _names(audits_api, updated_since=mark, sort="updated_at") == [made[-1]["name"]]
    changed = []
    for n in (made[2], made[0]):
        answer = await audits_api.patch(f"/v1/neighbourhoods/{n['id']}", json={"population": 1234})
        changed.append(answer.json()["name"])
    since = await _names(audits_api, updated_since=mark, sort="updated_at")
    assert since[-2:] == changed and made[1]["name"] not in since
    assert await _names(audits_api, sort="-updated_at", limit=2) == changed[::-1]


async def test_every_sort_order_pages_through_everything_once(audits_api: httpx.AsyncClient) -> None:
    for _ in range(5):
        await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())
    everything = await _names(audits_api, sort="created_at", limit=100)
    for sort in ("created_at", "-created_at", "updated_at", "-updated_at"):
        seen, cursor = [], None
        while True:
            params = {"sort": sort, "limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await audits_api.get("/v1/neighbourhoods", params=params)).json()
            seen += [n["name"] for n in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(everything) and len(seen) == len(everything), sort
    assert await _names(audits_api, sort="-created_at", limit=100) == everything[::-1]


async def test_a_cursor_of_another_order_is_refused(audits_api: httpx.AsyncClient) -> None:
    for _ in range(3):
        await audits_api.post("/v1/neighbourhoods", json=factories.neighbourhood())
    cursor = (await audits_api.get("/v1/neighbourhoods", params={"sort": "updated_at", "limit": 1})).json()
    answer = await audits_api.get("/v1/neighbourhoods", params={"cursor": cursor["next_cursor"], "sort": "-created_at"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "query.cursor"


async def test_unknown_or_malformed_query_parameters_are_refused(audits_api: httpx.AsyncClient) -> None:
    for params, field in (
        ({"updatedsince": "2026-01-01T00:00:00Z"}, "query.updatedsince"),
        ({"updated_since": "2026-01-01T00:00:00"}, "query.updated_since"),
        ({"sort": "name"}, "query.sort"),
    ):
        answer = await audits_api.get("/v1/neighbourhoods", params=params)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == [field]
    totals_typo = await audits_api.get("/v1/audits", params={"partnership": "x", "limit": 5})
    assert totals_typo.status_code == 422 and totals_typo.json()["errors"][0]["field"] == "query.partnership"


async def test_the_open_standards_keep_their_own_parameter_rules(keyless_audits_api: httpx.AsyncClient) -> None:
    answer = await keyless_audits_api.get("/open311/v2/services.json", params={"jurisdiction_id": "x", "extra": "1"})
    assert answer.status_code != 422
