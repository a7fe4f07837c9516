"""Signed HTTP deliveries to other systems: the CSWB feeds and the webhooks.

A POST carries a timestamp (Unix seconds) and ``sha256=<hex>``, the
HMAC-SHA256 with the shared secret of ``<timestamp>.<body>``, so a receiver
can refuse a forged body or a replayed one (by the timestamp's age). Failed
attempts are tried again after an exponential back-off.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func

ERROR_CHARS = 500


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, signed: str, body: bytes, *, max_age_s: float = 300) -> bool:
    """What a receiver checks: the signature, and a timestamp recent enough that a replay is refused."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > max_age_s:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), signed)


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with 'equal jitter': half the step is fixed, half random, so retries spread out."""
    step = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, sent_headers: dict[str, str]
) -> tuple[int | None, str | None]:
    """The status and, unless it is a 2xx, what went wrong."""
    try:
        response = await client.post(url, content=body, headers=sent_headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS] or type(exc).__name__
    if response.is_success:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text}"[:ERROR_CHARS]


def next_step(
    attempts: int, status: int | None, error: str | None, *, max_attempts: int, base_s: float, max_s: float
) -> tuple[str, float | None, dict[str, Any]]:
    """After attempt number ``attempts``: the delivery's state, the wait before the next attempt, and the
    values its row takes (``delivered``; ``retrying`` after a back-off; ``failed`` after the last attempt)."""
    if error is None:
        done = {"state": "delivered", "last_status": status, "last_error": None, "delivered_at": func.now(),
                "next_attempt_at": None}  # fmt: skip
        return "delivered", None, done
    if attempts >= max_attempts:
        return "failed", None, {"state": "failed", "last_status": status, "last_error": error, "next_attempt_at": None}
    wait = backoff_s(attempts, base_s, max_s)
    values = {"state": "retrying", "last_status": status, "last_error": error,
              "next_attempt_at": func.now() + timedelta(seconds=wait)}  # fmt: skip
    return "retrying", wait, values
