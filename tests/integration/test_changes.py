"""``GET /v1/changes``: a key follows the records it may read, to the end of the log and on from there."""

from __future__ import annotations

from typing import Any

import httpx

from tests import factories
from tests.integration.test_access import two  # noqa: F401  (the fixture: partnerships A and B, an editor of A)


async def _follow(client: httpx.AsyncClient, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every page until the cursor stops moving; returns the events and the last cursor."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        r = await client.get("/v1/changes", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["next_cursor"] is not None
        events += [item["event"] for item in page["items"]]
        if page["next_cursor"] == cursor and not page["waiting"]:
            return events, cursor
        cursor = page["next_cursor"]


def _subjects(events: list[dict[str, Any]]) -> set[str]:
    return {e["subject_id"] for e in events}


async def test_an_editor_sees_its_partnerships_events_and_the_reference_data_only(two: dict[str, Any]) -> None:  # noqa: F811
    a, b = two["a"], two["b"]
    seen, _ = await _follow(two["audits"])
    seen_events, _ = await _follow(two["events"])
    subjects = _subjects(seen) | _subjects(seen_events)
    for kind in ("partnership", "audit", "recommendation", "audit_request", "event", "stakeholder"):
        assert a[kind]["id"] in subjects, kind
        assert b[kind]["id"] not in subjects, kind
    # neighbourhoods are reference data: every reading key follows them
    assert {a["neighbourhood"]["id"], b["neighbourhood"]["id"]} <= subjects
    assert all(e["actor"] is None for e in seen + seen_events)  # who changed what is for admins (audit trail)
    everything, _ = await _follow(two["admin_audits"])
    assert b["audit"]["id"] in _subjects(everything)
    assert all(e["actor"] for e in everything)


async def test_the_end_of_the_feed_gives_the_same_cursor_and_then_what_came_after(two: dict[str, Any]) -> None:  # noqa: F811
    editor, a = two["audits"], two["a"]
    _, end = await _follow(editor)
    again = (await editor.get("/v1/changes", params={"cursor": end})).json()
    assert again == {"items": [], "next_cursor": end, "waiting": False}
    # another partnership's write moves nothing for this key
    await two["admin_audits"].post(
        "/v1/audits", json=factories.audit(two["b"]["partnership"]["id"], two["b"]["neighbourhood"]["id"])
    )
    audit = await editor.post("/v1/audits", json=factories.audit(a["partnership"]["id"], a["neighbourhood"]["id"]))
    assert audit.status_code == 201, audit.text
    new, _ = await _follow(editor, cursor=end)
    assert [(e["type"], e["subject_id"]) for e in new] == [("audit.created", audit.json()["id"])]


async def test_types_filter_comma_separated_or_repeated_and_unknown_types_are_refused(two: dict[str, Any]) -> None:  # noqa: F811
    admin = two["admin_audits"]
    comma, _ = await _follow(admin, types="audit.created,recommendation.created")
    repeated = []
    cursor = "0"
    while True:
        page = (await admin.get(f"/v1/changes?types=audit.created&types=recommendation.created&cursor={cursor}")).json()
        repeated += [item["event"] for item in page["items"]]
        if page["next_cursor"] == cursor:
            break
        cursor = page["next_cursor"]
    assert {e["type"] for e in comma} == {"audit.created", "recommendation.created"}
    assert comma == repeated
    assert len(comma) == 4  # one audit and one recommendation in each partnership

    r = await admin.get("/v1/changes", params={"types": "audit.created,audit.exploded"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "query.types"
    assert "audit.exploded" in r.json()["detail"]
    # the events service knows its own types only
    r = await two["admin_events"].get("/v1/changes", params={"types": "audit.created"})
    assert r.status_code == 422


async def test_the_event_union_is_typed_in_the_openapi_document(two: dict[str, Any]) -> None:  # noqa: F811
    doc = (await two["admin_audits"].get("/openapi.json")).json()
    schema = doc["components"]["schemas"]
    change = schema["AuditsChange"]["properties"]["event"]
    refs = {member["$ref"].rsplit("/", 1)[1] for member in change["oneOf"]}
    assert {"AuditCreatedV1", "RecommendationStatusChangedV1", "AuditRequestUpdatedV1"} <= refs
    assert schema["AuditCreatedV1"]["properties"]["type"]["const"] == "audit.created"
