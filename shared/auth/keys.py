"""API keys: stored hashed, scoped, revocable, with expiry.

Scopes:

- ``admin``: everything.
- ``editor``: reads and writes limited to the partnerships named on the key.
- ``reader``: reads every partnership's records and figures.
- ``service``: what one service of the platform asks of another on no
  caller's behalf: every read a reader has, plus the producers' event logs
  (``GET /v1/outbox``) and the dead letters (``GET /v1/bus/dead-letters``).
  Those feeds carry every record's full state, hidden categories and
  personal contacts included, so no other key but an admin's reads them.
  ``CPTED_SERVICE_API_KEY`` is a service key; it writes nothing.
- ``feed``: reads the CSWB feeds only.

Keys travel only in ``Authorization: Bearer``. Every request looks its key
up again, so a revoked or expired key is refused by every process on its
next request.

Figures follow records: a figure attributed to one partnership (its totals,
its row of the totals by partnership, its report, the evaluation of one of
its audits, the audits pooled in an evaluation summary) is shown to the keys
that see that partnership's records, and is "not found" for the others,
exactly like the partnership itself. Programme-wide figures that name no
partnership (totals with no ``partnership_id``, totals by neighbourhood,
targeting, incident counts) are shown to every reading key.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBearer
from sqlalchemy import (
    Column,
    DateTime,
    Select,
    String,
    Table,
    Uuid,
    bindparam,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db.engine import new_metadata
from shared.db.prepared import Prepared, as_record
from shared.errors import Forbidden, NotFound, Unauthorized

KEY_PREFIX = "cpted_"
E = TypeVar("E", bound=Callable[..., Any])

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
    service = "service"
    feed = "feed"


SEES_ALL = frozenset({Scope.admin, Scope.reader, Scope.service})


def partnerships_seen(scope: Scope, partnership_ids: frozenset[uuid.UUID]) -> frozenset[uuid.UUID] | None:
    """The one rule of whose records a scope reads: None for every partnership's, else the key's own (editors)."""
    if scope in SEES_ALL:
        return None
    return partnership_ids if scope is Scope.editor else frozenset()


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    name: str
    scope: Scope
    partnership_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    # False for identities this platform cannot revoke (OIDC tokens: the identity provider's to end).
    api_key: bool = True

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    @property
    def is_admin(self) -> bool:
        return self.scope is Scope.admin

    def sees_all(self) -> bool:
        return self.scope in SEES_ALL

    def visible_partnerships(self) -> frozenset[uuid.UUID] | None:
        """The partnerships whose records and figures this key sees; None for all of them."""
        return partnerships_seen(self.scope, self.partnership_ids)

    def can_read(self, partnership_ids: Iterable[uuid.UUID | None]) -> bool:
        if self.sees_all():
            return True
        return self.scope is Scope.editor and any(p in self.partnership_ids for p in partnership_ids)

    def can_write(self, partnership_ids: Iterable[uuid.UUID | None]) -> bool:
        """A record shared by several partnerships may be changed by an editor of any of them."""
        if self.is_admin:
            return True
        return self.scope is Scope.editor and any(p in self.partnership_ids for p in partnership_ids)

    def require_read(self) -> None:
        if self.scope is Scope.feed:
            raise Forbidden("this key may only read the CSWB feeds")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this action needs an admin key")

    def require_service(self) -> None:
        if self.scope not in (Scope.admin, Scope.service):
            raise Forbidden("this feed is read with a service or admin key")

    def require_write(self, partnership_id: uuid.UUID | None) -> None:
        self.require_write_any([partnership_id])

    def require_write_any(self, partnership_ids: Iterable[uuid.UUID | None]) -> None:
        if not self.can_write(partnership_ids):
            raise Forbidden("this key may not change this partnership's records")

    def ensure_visible(self, partnership_ids: Iterable[uuid.UUID | None], what: str) -> None:
        """Records of partnerships a key cannot read do not exist for it."""
        if not self.can_read(partnership_ids):
            raise NotFound(f"{what} not found")

    def ensure_figures_visible(self, partnership_id: uuid.UUID | None) -> None:
        """A partnership's figures exist for the keys that see its records (see the module's docstring)."""
        if partnership_id is not None:
            self.ensure_visible([partnership_id], f"partnership {partnership_id}")

    def figures_partnerships(self, partnership_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
        """Of ``partnership_ids``, those whose figures this key sees."""
        visible = self.visible_partnerships()
        return [p for p in partnership_ids if visible is None or p in visible]


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


async def key_principal(session: AsyncSession, plaintext: str) -> Principal | None:
    """The principal of a key that is neither revoked nor expired, else None."""
    return await _lookup(session, hash_key(plaintext))


def _live() -> Any:
    return (api_key.c.revoked_at.is_(None), or_(api_key.c.expires_at.is_(None), api_key.c.expires_at > func.now()))


# Built once: every request runs it, and building a statement costs as much as running it.
_BY_DIGEST = Prepared(
    select(api_key.c.id, api_key.c.name, api_key.c.scope, api_key.c.partnership_ids).where(
        api_key.c.hash == bindparam("digest"), *_live()
    )
)


def _principal(row: Mapping[str, Any] | None, prefix: str = "") -> Principal | None:
    if row is None:
        return None
    p = prefix
    return Principal(row[f"{p}id"], row[f"{p}name"], Scope(row[f"{p}scope"]), frozenset(row[f"{p}partnership_ids"]))


_KEY_COLUMNS = (
    api_key.c.id.label("key_id"),
    api_key.c.name.label("key_name"),
    api_key.c.scope.label("key_scope"),
    api_key.c.partnership_ids.label("key_partnership_ids"),
)
_READ_WITH_KEY = "cpted.read_with_key"


class KeyedRead:
    """A record a route reads by one of its path parameters, read in the statement that looks the caller's API key up.

    Every request looks its key up; a route that then loads the record its path names saves a round trip and a
    pooled connection by reading both at once. The route's endpoint is marked with ``with_key`` and takes the
    record (a row by column name, or None) from the ``row`` dependency. The key is still checked first (401); the
    record's absence is the handler's to answer, after the body's validation as on any other route.

    ``record`` selects the record's columns, its key first, bound to the path parameter by the parameter's name.
    """

    def __init__(self, record: Select[Any], parameter: str, parse: Callable[[str], Any]) -> None:
        self.parameter, self.parse = parameter, parse
        self.alone = Prepared(record)
        found = record.subquery("record")
        key = select(*_KEY_COLUMNS).where(api_key.c.hash == bindparam("digest"), *_live()).subquery("key")
        self.with_key_statement = Prepared(select(key, found).select_from(key.outerjoin(found, true())))
        self.columns = [column.name for column in found.c]

    def with_key(self, endpoint: E) -> E:
        """Marks a route's endpoint: the key's lookup reads this record too."""
        endpoint.keyed_read = self  # type: ignore[attr-defined]
        return endpoint

    def value(self, request: Request) -> Any | None:
        """The path parameter, parsed; None when it does not parse (the route's validation answers that)."""
        try:
            return self.parse(request.path_params[self.parameter])
        except (KeyError, TypeError, ValueError):
            return None

    async def row(self, request: Request, principal: CurrentKey) -> Mapping[str, Any] | None:
        """The dependency: the record read with the key, else (an OIDC token, say) read now."""
        read = request.scope.get(_READ_WITH_KEY)
        if read is not None and read[0] is self:
            found: Mapping[str, Any] | None = read[1]
            return found
        if (value := self.value(request)) is None:
            return None
        async with request.app.state.engine.connect() as connection:
            return await self.alone.fetchrow(connection, {self.parameter: value})


async def _lookup(session: AsyncSession, digest: str) -> Principal | None:
    found = (await session.execute(_BY_DIGEST.statement, {"digest": digest})).first()
    return _principal(None if found is None else as_record(found._mapping))


async def hold_key(session: AsyncSession, principal: Principal) -> None:
    """Inside a transaction: 401 unless the caller's key is still live, and keep it so until the commit.

    The row is share-locked, so a revocation racing this transaction waits for it to end: a key is never made or
    revoked with a key whose revocation committed first. Other writes check the key when the request arrives
    only."""
    if not principal.api_key:
        return
    held = await session.execute(
        select(api_key.c.id).where(api_key.c.id == principal.key_id, *_live()).with_for_update(read=True)
    )
    if held.first() is None:
        raise Unauthorized("the API key is unknown, revoked or expired")


class KeyVerifier:
    """Looks a key up by its hash on every request.

    No answer is kept between requests: a revocation or an expiry committed in
    PostgreSQL holds for every process from the next request on. The lookup is one
    unique-index probe in SQLAlchemy Core, outside any transaction (no BEGIN or
    ROLLBACK round trips), on a pooled connection, as a prepared statement of its own (``shared.db.prepared``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def verify(self, plaintext: str) -> Principal:
        async with self.engine.connect() as connection:
            principal = _principal(await _BY_DIGEST.fetchrow(connection, {"digest": hash_key(plaintext)}))
        if principal is None:
            raise Unauthorized("the API key is unknown, revoked or expired")
        return principal

    async def verify_reading(self, plaintext: str, read: KeyedRead, value: Any) -> tuple[Principal, Any]:
        """The key's principal, and the record ``read`` finds for ``value`` (None when there is none)."""
        values = {"digest": hash_key(plaintext), read.parameter: value}
        async with self.engine.connect() as connection:
            row = await read.with_key_statement.fetchrow(connection, values)
        if row is None:
            raise Unauthorized("the API key is unknown, revoked or expired")
        principal = Principal(
            row["key_id"], row["key_name"], Scope(row["key_scope"]), frozenset(row["key_partnership_ids"])
        )
        record = None if row[read.columns[0]] is None else {name: row[name] for name in read.columns}
        return principal, record


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
    read: KeyedRead | None = getattr(getattr(request.scope.get("route"), "endpoint", None), "keyed_read", None)
    if read is not None and (value := read.value(request)) is not None:
        principal, record = await verifier.verify_reading(token, read, value)
        request.scope[_READ_WITH_KEY] = (read, record)
        return principal
    return await verifier.verify(token)


CurrentKey = Annotated[Principal, Depends(current_principal)]


async def reader(principal: CurrentKey) -> Principal:
    principal.require_read()
    return principal


ReaderKey = Annotated[Principal, Depends(reader)]
