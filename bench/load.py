"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams.

Cheaper per request than an HTTP client library, so the server, not the
generator, is what gets measured. Loopback only; bounded in time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Load:
    completed: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)


def request_bytes(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def closed_loop(port: int, request: bytes, connections: int, seconds: float) -> Load:
    """Each connection sends the request again as soon as the previous answer arrives."""
    load = Load()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                load.latencies.append(time.perf_counter() - start)
                if 200 <= status < 300:
                    load.completed += 1
                else:
                    load.failed += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return load
