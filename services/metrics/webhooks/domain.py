"""The rules of webhooks: where they may point and how a delivery is signed (what an attempt leads to is
``services/metrics/attempts.py``, shared with the CSWB feeds)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from shared.outbound.signing import signature

SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-CPTED-Signature", "X-CPTED-Timestamp"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class BadTarget(ValueError):
    pass


def check_target(url: str, env: str) -> str:
    """An https URL; plain http only to this machine, and only in development and tests."""
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise BadTarget("the target may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port that is no number raises here, not at the first delivery)
    except ValueError as exc:
        raise BadTarget(f"the target is not a URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadTarget("the target must be an absolute https URL")
    if parts.username or parts.password:
        raise BadTarget("the target may not carry credentials: receivers check the signature instead")
    if parts.scheme == "http" and not (env in ("dev", "test") and parts.hostname in LOOPBACK):
        raise BadTarget("the target must use https (plain http only to 127.0.0.1 in development and tests)")
    return url


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def headers(event_id: str, event_type: str, delivery_id: str, body: bytes, secret: str, now: float) -> dict[str, str]:
    timestamp = int(now)
    return {
        "Content-Type": "application/json",
        "User-Agent": "cpted-webhooks/1",
        # The same for every attempt and redelivery of one event: receivers drop repeats by it.
        "Idempotency-Key": event_id,
        "X-CPTED-Event-Type": event_type,
        "X-CPTED-Delivery": delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
