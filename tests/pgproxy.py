"""A TCP proxy in front of the real PostgreSQL that a test can take down, as a restart would.

``up``: bytes flow both ways. ``starting``: new connections are told, in the
server's own protocol, "the database system is starting up" (SQLSTATE 57P03),
as a restarting PostgreSQL answers. ``down``: connections are refused. ``silent``: connections, open
and new, stay open and nothing comes back, as from a server that hung.
``drop()`` closes every open connection, like a server going away.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from tests.servers import free_port

Mode = Literal["up", "starting", "down", "silent"]

SSL_REQUEST = 80877103


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(code + value.encode() + b"\0" for code, value in ((b"S", "FATAL"), (b"V", "FATAL"),
                      (b"C", sqlstate), (b"M", message)))  # fmt: skip
    payload = fields + b"\0"
    return b"E" + struct.pack("!I", len(payload) + 4) + payload


class PgProxy:
    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.port = free_port()
        self.url = self.url_for(database_url)
        self.mode: Mode = "up"
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.upstream_ports: set[int] = set()

    def url_for(self, database_url: str) -> str:
        """The URL of a database of the same server, through the proxy."""
        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))

    async def start(self) -> PgProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "down" and self._server is not None:
            self._server.close()
            self._server = None
            await self.drop()
        elif mode != "down" and self._server is None:
            await self.start()

    async def drop(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        await self.set_mode("down")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self.mode == "starting":
                await self._refuse_as_starting(reader, writer)
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self.upstream_ports.add(up_writer.get_extra_info("sockname")[1])
            self._writers.add(up_writer)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        except OSError:
            pass
        finally:
            writer.close()

    async def _refuse_as_starting(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            body = await reader.readexactly(length - 4)
            if length == 8 and struct.unpack("!I", body)[0] == SSL_REQUEST:
                writer.write(b"N")  # no TLS here; the client goes on in clear
                continue
            writer.write(_error_response("57P03", "the database system is starting up"))
            await writer.drain()
            return

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.mode == "silent":
                    continue  # swallowed: the other side waits for an answer that never comes
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
