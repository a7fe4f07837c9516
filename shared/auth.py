"""API keys: stored hashed, scoped, revocable, with expiry.

Scopes: ``admin`` (everything), ``editor`` (reads and writes limited to the
partnerships named on the key), ``reader`` (reads everything), ``feed``
(reads the CSWB feeds). Keys travel only in ``Authorization: Bearer``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBearer
from sqlalchemy import (
    Column,
    DateTime,
    String,
    Table,
    Uuid,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db import new_metadata
from shared.errors import Forbidden, NotFound, Unauthorized

KEY_PREFIX = "cpted_"

metadata = new_metadata("auth")

api_key = Table(
    "api_key",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("name", String(200), nullable=False),
    Column("scope", String(20), nullable=False),
    Column("partnership_ids", ARRAY(Uuid), nullable=False, server_default="{}"),
    Column("prefix", String(20), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


class Scope(StrEnum):
    admin = "admin"
    editor = "editor"
    reader = "reader"
    feed = "feed"


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    name: str
    scope: Scope
    partnership_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    @property
    def is_admin(self) -> bool:
        return self.scope is Scope.admin

    def sees_all(self) -> bool:
        return self.scope in (Scope.admin, Scope.reader)

    def can_read(self, partnership_ids: Iterable[uuid.UUID | None]) -> bool:
        if self.sees_all():
            return True
        return self.scope is Scope.editor and any(p in self.partnership_ids for p in partnership_ids)

    def require_read(self) -> None:
        if self.scope is Scope.feed:
            raise Forbidden("this key may only read the CSWB feeds")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this action needs an admin key")

    def require_write(self, partnership_id: uuid.UUID | None) -> None:
        if self.is_admin:
            return
        if self.scope is Scope.editor and partnership_id in self.partnership_ids:
            return
        raise Forbidden("this key may not change this partnership's records")

    def ensure_visible(self, partnership_ids: Iterable[uuid.UUID | None], what: str) -> None:
        """Records of partnerships a key cannot read do not exist for it."""
        if not self.can_read(partnership_ids):
            raise NotFound(f"{what} not found")


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_plaintext_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedKey:
    id: uuid.UUID
    name: str
    scope: Scope
    partnership_ids: list[uuid.UUID]
    expires_at: datetime | None
    plaintext: str


async def issue_key(
    session: AsyncSession,
    *,
    name: str,
    scope: Scope,
    partnership_ids: Iterable[uuid.UUID] = (),
    expires_at: datetime | None = None,
    plaintext: str | None = None,
) -> IssuedKey:
    """Store a new key; its plaintext is returned here and never again."""
    plaintext = plaintext or new_plaintext_key()
    key_id = uuid.uuid4()
    pids = list(partnership_ids)
    await session.execute(
        insert(api_key).values(
            id=key_id,
            name=name,
            scope=scope.value,
            partnership_ids=pids,
            prefix=plaintext[:12],
            hash=hash_key(plaintext),
            expires_at=expires_at,
        )
    )
    return IssuedKey(key_id, name, scope, pids, expires_at, plaintext)


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> bool:
    result = await session.execute(
        update(api_key).where(api_key.c.id == key_id, api_key.c.revoked_at.is_(None)).values(revoked_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def key_is_valid(session: AsyncSession, plaintext: str) -> bool:
    return await _lookup(session, hash_key(plaintext)) is not None


async def _lookup(session: AsyncSession, digest: str) -> Principal | None:
    row = (
        await session.execute(
            select(api_key).where(
                api_key.c.hash == digest,
                api_key.c.revoked_at.is_(None),
                or_(api_key.c.expires_at.is_(None), api_key.c.expires_at > func.now()),
            )
        )
    ).first()
    if row is None:
        return None
    return Principal(row.id, row.name, Scope(row.scope), frozenset(row.partnership_ids))


class KeyVerifier:
    """Looks keys up by hash, caching answers for a few seconds per process."""

    def __init__(self, engine: AsyncEngine, ttl_s: float) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def verify(self, plaintext: str) -> Principal:
        digest = hash_key(plaintext)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[0] > now:
            principal = cached[1]
        else:
            async with AsyncSession(self.engine) as session:
                principal = await _lookup(session, digest)
            if self.ttl_s > 0:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now + self.ttl_s, principal)
        if principal is None:
            raise Unauthorized("the API key is unknown, revoked or expired")
        return principal


# Declared for the OpenAPI document (the Authorize button, generated clients); the key itself is read by
# ``bearer_token`` so every route answers a missing or malformed key with the same problem.
API_KEY_SCHEME = "apiKey"
OPTIONAL_KEY_SCHEME = "apiKeyOptional"
api_key_scheme = HTTPBearer(
    scheme_name=API_KEY_SCHEME,
    bearerFormat="cpted_… API key, or an OIDC access token where OIDC is configured",
    description="An API key issued by an admin (`cpted keys create`, `POST /v1/keys`), sent as "
    "`Authorization: Bearer cpted_…`.",
    auto_error=False,
)
# Routes of the open standards: public without a key, more with one. The OpenAPI document lists them
# as "no key, or apiKey".
optional_key_scheme = HTTPBearer(scheme_name=OPTIONAL_KEY_SCHEME, auto_error=False)
calendar_basic_scheme = HTTPBasic(
    scheme_name="calendarBasic",
    description="For calendar apps that cannot send a Bearer header: the API key as the Basic password.",
    auto_error=False,
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(api_key_scheme)]
OptionalCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(optional_key_scheme)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    return token.strip()


async def current_principal(request: Request, _declared: Credentials = None) -> Principal:
    token = bearer_token(request)
    tokens = getattr(request.app.state, "token_verifier", None)
    if tokens is not None and tokens.accepts(token):
        return await tokens.verify(token)
    verifier: KeyVerifier = request.app.state.key_verifier
    return await verifier.verify(token)


CurrentKey = Annotated[Principal, Depends(current_principal)]


async def reader(principal: CurrentKey) -> Principal:
    principal.require_read()
    return principal


ReaderKey = Annotated[Principal, Depends(reader)]


def now_utc() -> datetime:
    return datetime.now(UTC)
