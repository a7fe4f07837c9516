"""``Idempotency-Key`` on POST: a repeat with the same key and body gets the first answer.

The key is claimed inside the transaction of the change itself (the unit of
work inserts the claim row before committing), so two racing requests with
one key can never both write. After the answer is produced it is stored on
the claim row and replayed byte for byte to later repeats; the same key with
a different body is a 422; a repeat while the first is still running is a 409
with ``Retry-After``.

The change and the claim commit together, but the answer is stored after:
if that fails (the database went away in between), the claim has no answer.
A repeat finding such a claim older than a few seconds re-runs the request
to recover one. The re-run can never write twice: any change it attempts
must take the claim again, which fails and rolls it back. What it can do is
replay: a create whose record exists answers with that record, so when the
body named no ``id`` the re-run names the record the claimed change was
about (stored on the claim in the same transaction).

An answer marked ``Cache-Control: no-store`` (a new API key's plaintext, shown
once) is never kept: repeats get a 409 saying the change was made, with its
``Location``, and the secret is nowhere but in the first answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db.claims import Claim, current_claim
from shared.errors import PROBLEM_BASE, PROBLEM_JSON, infrastructure_fault
from shared.web.middleware import send_problem

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
KEPT_HEADERS = {b"content-type", b"location", b"etag"}


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, table: Table, recover_after_s: float = 3.0) -> None:
        self.app = app
        self.table = table
        self.recover_after_s = recover_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"]) if scope["type"] == "http" else {}
        if scope["type"] != "http" or scope["method"] != "POST" or HEADER not in headers:
            await self.app(scope, receive, send)
            return
        key = headers[HEADER].decode("latin-1")
        if not 1 <= len(key) <= 255 or not key.isprintable():
            await send_problem(
                send, 400, "bad-idempotency-key", "Bad Idempotency-Key", "use 1 to 255 printable characters"
            )
            return
        body, replay_receive = await _buffer(receive)
        principal = hashlib.sha256(headers.get(b"authorization", b"")).hexdigest()
        query = scope.get("query_string", b"")
        fingerprint = hashlib.sha256(b"\0".join([scope["path"].encode(), query, body])).hexdigest()
        claim = Claim(self.table, principal, key, fingerprint)
        engine: AsyncEngine = scope["app"].state.engine
        row = await self._claimed(engine, claim, wait_s=0)
        if row is not None:
            if row.status is None and row.fingerprint == claim.fingerprint and row.stale:
                await self._recover(scope, engine, claim, body, row.subject_id, send)
            else:
                await self._answer_from(row, claim, send)
            return
        captured = _Captured(send)
        token = current_claim.set(claim)
        try:
            await self.app(scope, replay_receive, captured.send)
        finally:
            current_claim.reset(token)
        if captured.status == 409 and captured.problem_type.endswith("idempotency-key-in-use"):
            row = await self._claimed(engine, claim, wait_s=5)
            if row is not None:
                await self._answer_from(row, claim, send)
                return
        await _answer_and_keep(engine, claim, captured)

    async def _answer_from(self, row: Any, claim: Claim, send: Send) -> None:
        """Answer a repeat from the claim it found: the stored answer, or why there is none."""
        if row.fingerprint != claim.fingerprint:
            detail = "this Idempotency-Key was used with a different request"
            await send_problem(send, 422, "idempotency-key-reused", "Idempotency-Key reused", detail)
        elif row.status is None:
            detail = "a request with this Idempotency-Key is in progress"
            await send_problem(send, 409, "idempotency-key-in-use", "Request in progress", detail, {"Retry-After": "1"})
        else:
            stored = [(k.encode(), v.encode()) for k, v in row.headers.items()] + [(b"idempotent-replayed", b"true")]
            await send({"type": "http.response.start", "status": row.status, "headers": stored})
            await send({"type": "http.response.body", "body": row.body})

    async def _recover(
        self, scope: Scope, engine: AsyncEngine, claim: Claim, body: bytes, subject_id: uuid.UUID | None, send: Send
    ) -> None:
        """The claimed change committed but its answer was never stored: re-run the request for one."""
        claim.recovering = True
        for attempt in _recovery_bodies(body, subject_id):
            captured = _Captured(send)
            token = current_claim.set(claim)
            try:
                await self.app(scope, _receiver(attempt), captured.send)
            finally:
                current_claim.reset(token)
            if 200 <= captured.status < 300:
                captured.replayed = True
                await _answer_and_keep(engine, claim, captured)
                return
        detail = (
            "the request with this Idempotency-Key was applied, but its answer was lost and cannot be rebuilt; "
            "read the record to see the result"
        )
        extra = {"subject_id": str(subject_id)} if subject_id else {}
        await send_problem(send, 409, "idempotency-answer-lost", "Answer lost", detail, extra_body=extra)

    async def _claimed(self, engine: AsyncEngine, claim: Claim, wait_s: float) -> Any:
        table = self.table
        stale = (func.now() - table.c.created_at > timedelta(seconds=self.recover_after_s)).label("stale")
        query = select(table, stale).where(table.c.principal == claim.principal, table.c.key == claim.key)
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            async with AsyncSession(engine) as session:
                row = (await session.execute(query)).first()
            answered = row is None or row.status is not None or row.fingerprint != claim.fingerprint
            if answered or asyncio.get_running_loop().time() >= deadline:
                return row
            await asyncio.sleep(0.05)


def _recovery_bodies(body: bytes, subject_id: uuid.UUID | None) -> list[bytes]:
    """The request as sent, then (for a create that named no id) naming the record its change made."""
    bodies = [body]
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if subject_id is not None and isinstance(parsed, dict) and "id" not in parsed:
        bodies.append(orjson.dumps({**parsed, "id": str(subject_id)}))
    return bodies


def _receiver(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class _Captured:
    """Holds the route's answer until it is known whether to send it or a replay."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.messages: list[Message] = []
        self.status = 500
        self.headers: dict[str, str] = {}
        self.no_store = False
        self.body = b""
        self.replayed = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message.get("headers", []) if k.lower() in KEPT_HEADERS}
            self.no_store = any(
                k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in message.get("headers", [])
            )
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        self.messages.append(message)

    @property
    def problem_type(self) -> str:
        try:
            return str(orjson.loads(self.body).get("type", "")) if self.status == 409 else ""
        except orjson.JSONDecodeError:
            return ""

    async def flush(self) -> None:
        for message in self.messages:
            if self.replayed and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"idempotent-replayed", b"true")]}
            await self._send(message)


async def _answer_and_keep(engine: AsyncEngine, claim: Claim, answer: _Captured) -> None:
    """Keep a success for repeats, then send it: a client that repeats as soon as it has its answer gets it again."""
    if not 200 <= answer.status < 300:
        await answer.flush()
        return
    try:
        await _store_answer(engine, claim, answer)
    finally:
        await answer.flush()


async def _store_answer(engine: AsyncEngine, claim: Claim, answer: _Captured) -> None:
    """Keep the answer for repeats. A failure to keep it is logged, and a repeat recovers the answer."""
    try:
        await _store(engine, claim, answer)
    except Exception as exc:
        if infrastructure_fault(exc) is None:
            raise
        log.warning("the answer of an Idempotency-Key was not stored (%s); a repeat will recover it", exc)


def _kept(answer: _Captured) -> dict[str, Any]:
    """What repeats get: the answer, or for one that must not be stored, a 409 pointing at what was made."""
    if not answer.no_store:
        return {"status": answer.status, "headers": answer.headers, "body": answer.body}
    location = answer.headers.get("location")
    problem = {
        "type": f"{PROBLEM_BASE}idempotency-answer-not-kept",
        "title": "Answer not kept",
        "status": 409,
        "detail": "the request with this Idempotency-Key was applied; its answer held a secret that is shown once "
        "only and was not kept" + (f": read {location} for the record" if location else ""),
    }
    headers = {"content-type": PROBLEM_JSON} | ({"location": location} if location else {})
    return {"status": 409, "headers": headers, "body": orjson.dumps(problem)}


async def _store(engine: AsyncEngine, claim: Claim, answer: _Captured) -> None:
    values = _kept(answer)
    async with AsyncSession(engine) as session:
        if claim.taken or claim.recovering:
            table = claim.table
            await session.execute(
                update(table)
                .where(table.c.principal == claim.principal, table.c.key == claim.key, table.c.status.is_(None))
                .values(values)
            )
        else:  # the route changed nothing (e.g. a create that found its record): remember the answer all the same
            row = {"principal": claim.principal, "key": claim.key, "fingerprint": claim.fingerprint, **values}
            await session.execute(insert(claim.table).values(row).on_conflict_do_nothing())
        await session.commit()


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
