"""``/v1/keys``: API keys managed by admins. A key's plaintext is shown once, at creation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field
from sqlalchemy import select

from shared.auth.keys import CurrentKey, Scope, api_key, hold_key, issue_key, revoke_key
from shared.contracts.fields import Input, Moment, Name, Output
from shared.db.claims import take_claim
from shared.errors import InvalidField, NotFound
from shared.web.http import SessionDep
from shared.web.pagination import CursorDep, Page, paginate


class KeyCreate(Input):
    name: Name
    scope: Scope
    partnership_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    expires_at: Moment | None = None


class KeyRead(Output):
    id: uuid.UUID
    name: str
    scope: Scope
    partnership_ids: list[uuid.UUID]
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyIssued(KeyRead):
    key: str = Field(description="The key itself. Shown this once: store it now.")


router = APIRouter(prefix="/v1/keys", tags=["api keys"])


@router.post("", status_code=201, response_model=KeyIssued, summary="Create a key (admin)")
async def create_key(body: KeyCreate, session: SessionDep, principal: CurrentKey, response: Response) -> dict[str, Any]:
    principal.require_admin()
    await hold_key(session, principal)
    if body.scope is Scope.editor and not body.partnership_ids:
        raise InvalidField("an editor key needs at least one partnership", field="body.partnership_ids")
    issued = await issue_key(
        session, name=body.name, scope=body.scope, partnership_ids=body.partnership_ids, expires_at=body.expires_at
    )
    await take_claim(session)  # an Idempotency-Key's repeats cannot make a second key
    await session.commit()
    row = (await session.execute(select(api_key).where(api_key.c.id == issued.id))).one()
    response.headers["Location"] = f"/v1/keys/{issued.id}"
    response.headers["Cache-Control"] = "no-store"
    return {**row._mapping, "key": issued.plaintext}


@router.get("", response_model=Page[KeyRead], summary="List keys, newest first, never their plaintext (admin)")
async def list_keys(session: SessionDep, principal: CurrentKey, page: CursorDep) -> dict[str, Any]:
    principal.require_admin()
    rows, next_cursor = await paginate(session, select(api_key), api_key.c, page)
    return {"items": [row._mapping for row in rows], "next_cursor": next_cursor}


@router.delete("/{key_id}", status_code=204, summary="Revoke a key at once (admin)")
async def delete_key(key_id: uuid.UUID, session: SessionDep, principal: CurrentKey, request: Request) -> None:
    principal.require_admin()
    await hold_key(session, principal)
    if not await revoke_key(session, key_id):
        raise NotFound(f"no active key {key_id}")
    await session.commit()
