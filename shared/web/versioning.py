"""Optimistic concurrency: every record has a ``version``; ``ETag`` and ``If-Match`` carry it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Response

from shared.errors import PreconditionFailed


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """A stale ``If-Match`` means someone else changed the record since it was read."""
    if if_match is None or if_match.strip() == "*":
        return
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if etag(version) not in tags:
        raise PreconditionFailed(f"the record changed since it was read; its version is now {version}")


def apply_changes(row: Any, changes: dict[str, Any]) -> bool:
    """Copy the changed fields onto ``row`` and bump its version; False when nothing changed."""
    changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if not changed:
        return False
    for key, value in changed.items():
        setattr(row, key, value)
    row.version += 1
    row.updated_at = datetime.now(UTC)
    return True
