"""Conditional GET: every record and list answer carries a validator, and ``If-None-Match`` gets a 304.

A record's ``ETag`` is its version (the one ``If-Match`` takes); an answer without one gets a weak tag
from a hash of its body. Answers with a validator are ``Cache-Control: private, no-cache``: a browser
or a sync client may keep them but asks again each time, and a 304 costs no body. Streamed answers
(CSV and GeoJSON exports) pass through untouched.

A route can also wait for a change (``Prefer: wait=N`` with ``If-None-Match``, a long poll): it answers as
soon as its content differs from what the client holds, or with the 304 once the wait is over.
"""

from __future__ import annotations

import hashlib

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REVALIDATE = "private, no-cache"
# Headers a 304 keeps (RFC 9110 §15.4.5); the body and its framing go.
KEPT_ON_304 = {"etag", "cache-control", "vary", "content-location", "date", "expires", "x-request-id"}


def weak_tag(content: object) -> str:
    """A weak validator of an answer's content, for a route that must know it before answering (one that waits
    for a change): the same content gives the same tag, as the body hash of ``_answer`` would."""
    return f'W/"{hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()}"'


def holds(if_none_match: str | None, tag: str) -> bool:
    """Whether the client already has the answer tagged ``tag``: it names that tag (``*`` names none)."""
    return if_none_match is not None and if_none_match.strip() != "*" and matches(if_none_match, tag)


def preferred_wait(prefer: str | None, limit_s: float) -> float:
    """Seconds of the ``wait`` preference of a ``Prefer`` header (RFC 7240 §4.3), at most ``limit_s``; 0 without
    one. A preference not understood is ignored, as the RFC asks, not refused."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.split(";")[0].strip().partition("=")
        value = value.strip()
        if name.strip().lower() == "wait" and value.isascii() and value.isdigit():
            return min(float(value), limit_s)
    return 0.0


def matches(if_none_match: str, tag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for ``If-None-Match``."""
    if if_none_match.strip() == "*":
        return True
    wanted = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return tag.removeprefix("W/") in wanted


class ConditionalGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        start: Message | None = None

        async def send_with_validator(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            if message.get("more_body", False):  # streamed: no validator, sent as it comes
                await send(start)
                start = None
                await send(message)
                return
            await self._answer(start, message, if_none_match, send)
            start = None

        await self.app(scope, receive, send_with_validator)

    @staticmethod
    async def _answer(start: Message, body: Message, if_none_match: str | None, send: Send) -> None:
        headers = MutableHeaders(scope=start)
        tag = headers.get("etag")
        if tag is None:
            tag = f'W/"{hashlib.sha256(body.get("body", b"")).hexdigest()[:32]}"'
            headers["etag"] = tag
        headers.setdefault("cache-control", REVALIDATE)
        if if_none_match is None or not matches(if_none_match, tag):
            await send(start)
            await send(body)
            return
        kept = [(k, v) for k, v in start["headers"] if k.decode("latin-1").lower() in KEPT_ON_304]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
