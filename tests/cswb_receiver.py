"""A receiver on 127.0.0.1 of signed deliveries: CSWB feeds, as the province's or the committee's
endpoint would be, or webhooks, as a city system's would be.

It checks each POST's signature and timestamp with the shared secret, can be
told to fail the first N attempts of a date (or of an event) or to keep the
first one waiting for its answer, and records every attempt with the headers
a receiver drops repeats by (``Idempotency-Key``, ``X-CSWB-Digest``).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import orjson

from shared.outbound.signing import verify
from tests.http_receiver import serve_posts, stop

MAX_SKEW_S = 300


@dataclass(frozen=True)
class Attempt:
    feed_date: str
    status: int
    signature_ok: bool
    idempotency_key: str
    body: bytes
    digest: str = ""


def signed_ok(secret: str, headers: Any, body: bytes, prefix: str = "X-CSWB") -> bool:
    timestamp, signed = headers.get(f"{prefix}-Timestamp", ""), headers.get(f"{prefix}-Signature", "")
    return verify(secret, timestamp, signed, body, max_age_s=MAX_SKEW_S)


@dataclass
class Receiver:
    secret: str
    fail_first: dict[str, int] = field(default_factory=dict)
    """Answer 503 to the first N attempts for a date."""
    always_fail: bool = False
    fail_each_first: int = 0
    """Answer 503 to the first N attempts of everything not named in ``fail_first``."""
    prefix: str = "X-CSWB"
    """Of the signature and timestamp headers: ``X-CPTED`` for webhooks."""
    key: str = "feed_date"
    """The body's field that names what is delivered (``fail_first``, ``tries``): ``id`` for a webhook's event."""
    hold_first: set[str] = field(default_factory=set)
    """Dates whose first attempt is recorded as accepted, then answered only after ``release()``."""
    attempts: list[Attempt] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/cswb/feeds"

    def _answer(self, headers: Any, body: bytes) -> tuple[int, bool]:
        """The status to answer, and whether to hold it until ``release()``."""
        ok = signed_ok(self.secret, headers, body, self.prefix)
        day = orjson.loads(body)[self.key] if ok else headers.get("X-CSWB-Feed-Date", "")
        with self._lock:
            seen = sum(a.feed_date == day for a in self.attempts)
            status = (
                401
                if not ok
                else 503
                if self.always_fail or seen < self.fail_first.get(day, self.fail_each_first)
                else 200
            )
            sent = Attempt(day, status, ok, headers.get("Idempotency-Key", ""), body, headers.get("X-CSWB-Digest", ""))
            self.attempts.append(sent)
        return status, seen == 0 and day in self.hold_first

    def start(self) -> Receiver:
        self._server = serve_posts(self._respond)
        return self

    def _respond(self, _path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
        status, hold = self._answer(headers, body)
        if hold:
            self._released.wait(60)
        return status, "application/json", b"{}"

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self._released.set()
        stop(self._server)

    def accepted(self) -> Counter[str]:
        """Deliveries answered 200, by feed date."""
        with self._lock:
            return Counter(a.feed_date for a in self.attempts if a.status == 200)

    def tries(self, day: str) -> list[int]:
        with self._lock:
            return [a.status for a in self.attempts if a.feed_date == day]
