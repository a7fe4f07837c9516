"""A randomised history: concurrent writers, consumers and relays killed at random, exact totals at the end.

Seeded (CPTED_HISTORY_SEED to replay one) and bounded in time
(CPTED_HISTORY_SECONDS, longer with --slow). Each writer owns the records it
creates, so its ledger of accepted writes is exact whatever the others do.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests import factories
from tests.e2e.conftest import start_platform
from tests.e2e.processes import Platform
from tests.e2e.scenario import clients
from tests.integration.events.factories import event
from tests.servers import TestServers

pytestmark = pytest.mark.e2e

NEXT = {"proposed": "accepted", "accepted": "in_progress", "in_progress": "implemented", "deferred": "accepted"}
CATEGORIES = ["lighting", "traffic_calming", "landscaping", "signage", "maintenance"]


@dataclass
class Book:
    """One writer's accepted writes."""

    audits: dict[str, dict[str, Any]] = field(default_factory=dict)
    recs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    accepted: int = 0


def expected(books: list[Book]) -> dict[str, Any]:
    audits = {k: v for b in books for k, v in b.audits.items() if not v["deleted"]}
    recs = [r for b in books for r in b.recs.values() if r["audit_id"] in audits]
    live_events = [e for b in books for e in b.events.values() if e["status"] != "cancelled" and not e["deleted"]]
    return {
        "events": len(live_events),
        "special_events": sum(e["special"] for e in live_events),
        "audits": len(audits),
        "audits_completed": sum(a["status"] == "completed" for a in audits.values()),
        "recommendations": len(recs),
        "recommendations_implemented": sum(r["status"] == "implemented" for r in recs),
        "by_status": Counter(r["status"] for r in recs),
        "by_category": Counter(r["category"] for r in recs),
    }


def observed(totals: dict[str, Any]) -> dict[str, Any]:
    keep = ("events", "special_events", "audits", "audits_completed", "recommendations", "recommendations_implemented")
    return {k: totals[k] for k in keep} | {
        "by_status": Counter({k: v for k, v in totals["recommendations_by_status"].items() if v}),
        "by_category": Counter({k: v for k, v in totals["recommendations_by_category"].items() if v}),
    }


async def event_writer(
    events: httpx.AsyncClient, rng: random.Random, book: Book, world: dict[str, Any], until: float
) -> None:
    """Creates, flips, cancels and deletes community events (the events service)."""
    while time.monotonic() < until:
        live = [e for e, v in book.events.items() if not v["deleted"] and v["status"] != "cancelled"]
        roll = rng.random()
        if roll < 0.5 or not live:
            p = rng.choice(world["partnerships"])
            special = rng.random() < 0.5
            r = await events.post("/v1/events", json=event([p["id"]], special=special, status="scheduled"))
            if _ok(book, r, 201):
                book.events[r.json()["id"]] = {"special": special, "status": "scheduled", "deleted": False}
        elif roll < 0.7:
            chosen = rng.choice(live)
            flipped = not book.events[chosen]["special"]
            if _ok(book, await events.patch(f"/v1/events/{chosen}", json={"special": flipped}), 200):
                book.events[chosen]["special"] = flipped
        elif roll < 0.85:
            chosen = rng.choice(live)
            if _ok(book, await events.patch(f"/v1/events/{chosen}", json={"status": "cancelled"}), 200):
                book.events[chosen]["status"] = "cancelled"
        else:
            chosen = rng.choice(list(book.events))
            if _ok(book, await events.delete(f"/v1/events/{chosen}"), 204):
                book.events[chosen]["deleted"] = True


async def writer(api: httpx.AsyncClient, rng: random.Random, book: Book, world: dict[str, Any], until: float) -> None:
    while time.monotonic() < until:
        live = [a for a, v in book.audits.items() if not v["deleted"]]
        open_recs = [r for r, v in book.recs.items() if v["status"] in NEXT and v["audit_id"] in live]
        roll = rng.random()
        if roll < 0.25 or not live:
            await _create_audit(api, rng, book, world)
        elif roll < 0.55:
            await _create_rec(api, rng, book, rng.choice(live))
        elif roll < 0.80 and open_recs:
            await _step(api, rng, book, rng.choice(open_recs))
        elif roll < 0.90:
            await _change_audit(api, rng, book, rng.choice(live))
        elif roll < 0.95 and book.recs:
            await _recategorise(api, rng, book, rng.choice(list(book.recs)))
        else:
            await _delete_audit(api, book, rng.choice(live))


def _ok(book: Book, r: httpx.Response, *expected_statuses: int) -> bool:
    if r.status_code in expected_statuses:
        book.accepted += 1
        return True
    assert r.status_code < 500, r.text
    return False


async def _create_audit(api: httpx.AsyncClient, rng: random.Random, book: Book, world: dict[str, Any]) -> None:
    p = rng.choice(world["partnerships"])
    day = date(2025, 1, 1) + timedelta(days=rng.randrange(200))
    status = rng.choice(["planned", "completed"])
    body = factories.audit(p["id"], p["neighbourhood_ids"][0], conducted_on=day.isoformat(), status=status)
    r = await api.post("/v1/audits", json=body)
    if _ok(book, r, 201):
        book.audits[r.json()["id"]] = {"day": day, "status": status, "deleted": False, "steps": 0}


async def _create_rec(api: httpx.AsyncClient, rng: random.Random, book: Book, audit_id: str) -> None:
    category = rng.choice(CATEGORIES)
    r = await api.post(f"/v1/audits/{audit_id}/recommendations", json=factories.recommendation(category=category))
    if _ok(book, r, 201):
        book.recs[r.json()["id"]] = {"audit_id": audit_id, "category": category, "status": "proposed", "steps": 0}


async def _step(api: httpx.AsyncClient, rng: random.Random, book: Book, rec_id: str) -> None:
    rec = book.recs[rec_id]
    to = "deferred" if rng.random() < 0.1 and rec["status"] != "deferred" else NEXT[rec["status"]]
    on = book.audits[rec["audit_id"]]["day"] + timedelta(days=300 + rec["steps"])
    r = await api.post(f"/v1/recommendations/{rec_id}/transitions", json={"to": to, "on": on.isoformat()})
    if _ok(book, r, 200):
        rec["status"], rec["steps"] = to, rec["steps"] + 1
        book.audits[rec["audit_id"]]["steps"] += 1


async def _change_audit(api: httpx.AsyncClient, rng: random.Random, book: Book, audit_id: str) -> None:
    audit = book.audits[audit_id]
    earlier = audit["day"] - timedelta(days=rng.randrange(1, 5))  # never past its recommendations' steps
    status = rng.choice(["planned", "completed"])
    r = await api.patch(f"/v1/audits/{audit_id}", json={"conducted_on": earlier.isoformat(), "status": status})
    if _ok(book, r, 200):
        audit["day"], audit["status"] = earlier, status


async def _recategorise(api: httpx.AsyncClient, rng: random.Random, book: Book, rec_id: str) -> None:
    category = rng.choice(CATEGORIES)
    r = await api.patch(f"/v1/recommendations/{rec_id}", json={"category": category})
    if _ok(book, r, 200, 404):
        if r.status_code == 200:
            book.recs[rec_id]["category"] = category


async def _delete_audit(api: httpx.AsyncClient, book: Book, audit_id: str) -> None:
    if _ok(book, await api.delete(f"/v1/audits/{audit_id}"), 204):
        book.audits[audit_id]["deleted"] = True


async def chaos(platform: Platform, rng: random.Random, until: float, kills: Counter[str]) -> None:
    """Kill a random consumer or relay with SIGKILL, then start a replacement."""
    generation = 0
    while time.monotonic() < until:
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        victims = [n for n in platform.procs if n.startswith(("consumer", "relay")) and platform.procs[n].popen
                   and platform.procs[n].popen.poll() is None]  # fmt: skip
        name = rng.choice(victims)
        await asyncio.to_thread(platform.procs[name].signal, signal.SIGKILL)
        kills[name.split("-")[0]] += 1
        generation += 1
        if name.startswith("consumer"):
            # Sometimes the same name (it re-reads its own pending entries), sometimes a new one (XAUTOCLAIM).
            new_name = name if rng.random() < 0.5 else f"consumer-g{generation}"
            platform.start_cli(new_name, "consume", CPTED_CONSUMER_NAME=new_name)
        else:
            source = name.split("-")[1]
            platform.start_cli(f"relay-{source}-g{generation}", "relay", source)


async def _world(api: httpx.AsyncClient) -> dict[str, Any]:
    partnerships = []
    for _ in range(2):
        n = (await api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
        partnerships.append((await api.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json())
    return {"partnerships": partnerships}


async def test_random_history_ends_with_exact_totals(servers: TestServers, pytestconfig: pytest.Config) -> None:
    seed = int(os.environ.get("CPTED_HISTORY_SEED") or random.randrange(1_000_000))
    seconds = float(os.environ.get("CPTED_HISTORY_SECONDS") or (60 if pytestconfig.getoption("--slow") else 12))
    rng = random.Random(seed)
    platform = await asyncio.to_thread(start_platform, servers, relays=2, consumers=2)
    kills: Counter[str] = Counter()
    try:
        api, metrics = clients(platform)
        headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
        async with api, metrics, httpx.AsyncClient(base_url=platform.url("events"), headers=headers) as events:
            world = await _world(api)
            until = time.monotonic() + seconds
            books = [Book() for _ in range(6)]
            await asyncio.gather(
                chaos(platform, random.Random(rng.random()), until, kills),
                *(writer(api, random.Random(rng.random()), book, world, until) for book in books[:4]),
                *(event_writer(events, random.Random(rng.random()), book, world, until) for book in books[4:]),
            )
            want, got = expected(books), {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                totals = (await metrics.get("/v1/totals")).json()
                got = observed(totals)
                if got == want and totals["lag_events"] == 0:
                    break
                await asyncio.sleep(0.2)
            writes = sum(b.accepted for b in books)
            print(f"seed {seed}: {writes} accepted writes, kills {dict(kills)}")
            assert got == want, f"seed {seed}: totals {got} != accepted writes {want}"
    finally:
        platform.stop()
