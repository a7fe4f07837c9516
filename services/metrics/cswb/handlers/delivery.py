"""Delivering a stored feed to one configured destination: signed, timed out, retried, finally failed.

The POST carries ``X-CSWB-Timestamp`` (Unix seconds) and ``X-CSWB-Signature:
sha256=<hex>``, the HMAC-SHA256 with the shared secret of
``<timestamp>.<body>``, so a receiver can refuse a forged or replayed feed.
``Idempotency-Key`` is the same for every attempt of one revision: delivery
is at least once (a worker killed after the receiver answered sends again),
and receivers drop repeats by that key.

The delivery row is locked (``FOR UPDATE SKIP LOCKED``) for the length of an
attempt and names the attempt it expects (``token``), so a duplicate or stale
task does nothing while another attempt runs or after it.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.attempts import Outcome, outcome
from services.metrics.cswb.settings import CswbSettings
from services.metrics.cswb.store import feeds as store
from shared.outbound.signing import backoff_s, post, signature

SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-CSWB-Signature", "X-CSWB-Timestamp"
__all__ = ["backoff_s", "post", "signature"]


def headers(feed_date: date, revision: int, digest: str, body: bytes, secret: str, now: float) -> dict[str, str]:
    timestamp = int(now)
    return {
        "Content-Type": "application/json",
        "User-Agent": "cpted-cswb-feed/1",
        "Idempotency-Key": f"cswb-{feed_date.isoformat()}-r{revision}",
        "X-CSWB-Feed-Date": feed_date.isoformat(),
        "X-CSWB-Revision": str(revision),
        "X-CSWB-Digest": f"sha256={digest}",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


async def _attempt(
    client: httpx.AsyncClient, ticket: store.Ticket, row: Any, cswb: CswbSettings
) -> tuple[Outcome, dict[str, Any]]:
    if cswb.cswb_signing_secret is None:
        unsigned = "CPTED_CSWB_SIGNING_SECRET is not set: feeds are never sent unsigned"
        return Outcome("failed", error=unsigned), {"state": "failed", "last_error": unsigned}
    secret = cswb.cswb_signing_secret.get_secret_value()
    sent = headers(ticket.feed_date, row.revision, row.digest, row.body, secret, time.time())
    status, error = await post(client, ticket.destination, row.body, sent)
    return outcome(
        row.attempts + 1, status, error,
        max_attempts=cswb.cswb_max_attempts, base_s=cswb.cswb_backoff_base_s, max_s=cswb.cswb_backoff_max_s,
    )  # fmt: skip


async def deliver(engine: AsyncEngine, cswb: CswbSettings, ticket: store.Ticket, client: httpx.AsyncClient) -> Outcome:
    if ticket.destination not in cswb.cswb_destinations:
        return Outcome("skipped", error="not a configured destination")
    async with engine.begin() as conn:
        row = await store.claim_delivery(conn, ticket.feed_date, ticket.destination)
        if row is None or row.state not in ("pending", "retrying") or row.total_attempts != ticket.token:
            return Outcome("skipped")
        outcome, values = await _attempt(client, ticket, row, cswb)
        await store.record_attempt(conn, ticket.feed_date, ticket.destination, **values)
    return outcome


def new_client(cswb: CswbSettings) -> httpx.AsyncClient:
    # Never follow a redirect: a feed goes to the configured URL and nowhere else.
    return httpx.AsyncClient(timeout=cswb.cswb_timeout_s, follow_redirects=False)
