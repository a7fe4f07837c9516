"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams.

Cheaper per request than an HTTP client library, so the server, not the
generator, is what gets measured. Loopback only; bounded in time.

Every request ends as an ``Answer``: when it was due, when its answer (or its
failure) came, and the outcome. A failure never escapes: errors, non-2xx
answers, timeouts and reset connections are outcomes, counted like answers.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

OK = "ok"
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Request:
    kind: str
    """What it is for the measurement: ``write``, ``read``, the counter a write adds to…"""
    port: int
    data: bytes


@dataclass(frozen=True)
class Answer:
    kind: str
    due: float
    """When it was to be sent (open loop: its place in the schedule, whether or not the generator kept up)."""
    answered: float
    outcome: str
    body: bytes = b""
    etag: str = ""

    @property
    def ms(self) -> float:
        return (self.answered - self.due) * 1000


@dataclass
class Run:
    start: float
    answers: list[Answer] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    """Open loop: how late after its due time the generator started each request (seconds)."""

    def ok(self, kind: str | None = None) -> list[Answer]:
        return [a for a in self.answers if a.outcome == OK and kind in (None, a.kind)]

    def failures(self) -> dict[str, int]:
        return dict(Counter(a.outcome for a in self.answers if a.outcome != OK))

    @property
    def elapsed(self) -> float:
        """From the start until the last answer, however long after the schedule that came."""
        return max((a.answered for a in self.answers), default=self.start) - self.start

    @property
    def achieved(self) -> float:
        """Acknowledged requests per second of real elapsed time."""
        return len(self.ok()) / self.elapsed if self.elapsed > 0 else 0.0


def request_bytes(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, str]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, etag = 0, ""
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
        elif line[:5].lower() == b"etag:":
            etag = line[5:].strip().decode("latin-1")
    return status, await reader.readexactly(length) if length else b"", etag


def failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionError | asyncio.IncompleteReadError):
        return "reset"
    return "error"


class Connections:
    """Keep-alive connections to each port, opened as needed up to ``limit`` per port; a failed one is closed.

    A request waiting for a free connection is still late from when it was due."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.idle: dict[int, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        self.slots: dict[int, asyncio.Semaphore] = {}

    async def _exchange(self, port: int, data: bytes) -> tuple[int, bytes, str]:
        async with self.slots.setdefault(port, asyncio.Semaphore(self.limit)):
            idle = self.idle.setdefault(port, [])
            reader, writer = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(data)
                answer = await _read_response(reader)
            except BaseException:
                writer.close()
                raise
            idle.append((reader, writer))
            return answer

    async def send(self, request: Request, due: float, timeout_s: float = TIMEOUT_S) -> Answer:
        """The answer to ``request``, or its failure; a timeout counts from ``due``."""
        try:
            status, body, etag = await asyncio.wait_for(
                self._exchange(request.port, request.data), due + timeout_s - time.perf_counter()
            )
            outcome = OK if 200 <= status < 300 else f"http {status}"
        except Exception as exc:
            outcome, body, etag = failure(exc), b"", ""
        return Answer(request.kind, due, time.perf_counter(), outcome, body, etag)

    def close(self) -> None:
        for idle in self.idle.values():
            for _, writer in idle:
                writer.close()
        self.idle.clear()


async def open_loop(pick: Callable[[int], Request], rate: float, seconds: float, connections: int = 256) -> Run:
    """Send request ``pick(i)`` at ``start + i / rate`` whatever the answers' pace (coordinated-omission safe:
    each latency counts from that due time, so a server that falls behind shows its queue in every latency)."""
    conns, run = Connections(connections), Run(time.perf_counter())
    tasks = []

    async def one(i: int, due: float) -> None:
        run.answers.append(await conns.send(pick(i), due))

    for i in range(round(rate * seconds)):
        due = run.start + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        run.late.append(time.perf_counter() - due)
        tasks.append(asyncio.ensure_future(one(i, due)))
    await asyncio.gather(*tasks)
    conns.close()
    return run


async def closed_loop(request: Request, connections: int, seconds: float) -> Run:
    """``connections`` clients, each sending the request again as soon as the previous answer arrives."""
    conns, run = Connections(connections), Run(time.perf_counter())
    deadline = run.start + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            run.answers.append(await conns.send(request, time.perf_counter()))

    await asyncio.gather(*(client() for _ in range(connections)))
    conns.close()
    return run
