"""A delivery's attempts, for the CSWB feeds and the webhooks alike: what an attempt leads to, and how the API
shows them. Signing, posting and the back-off itself are ``shared.outbound.signing``'s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.outbound.signing import next_step


@dataclass(frozen=True)
class Outcome:
    state: str
    """delivered, retrying, failed, skipped (another attempt holds it, it is done, or the task is stale), or, for a
    webhook, disabled (its subscription was turned off)."""
    retry_in_s: float | None = None
    error: str | None = None


def outcome(
    attempts: int, status: int | None, error: str | None, *, max_attempts: int, base_s: float, max_s: float
) -> tuple[Outcome, dict[str, Any]]:
    """The outcome of attempt number ``attempts`` (answered ``status``, or failed with ``error``) and the
    delivery's new values; ``max_attempts``, ``base_s`` and ``max_s`` are the destination's retry settings."""
    state, wait, values = next_step(attempts, status, error, max_attempts=max_attempts, base_s=base_s, max_s=max_s)
    return Outcome(state, wait, error), values


class AttemptsRead(BaseModel):
    """A delivery's attempts as the API shows them. Listed first among a model's bases, so that its fields come
    after the model's own leading ones, as the published documents have them."""

    attempts: int
    last_status: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
