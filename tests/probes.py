"""Probing a process's health port as the kubelet or compose would: an HTTP GET with a timeout."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any


def get(url: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON body; (0, {}) while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


async def probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    """In a thread: what the test runs on its own loop (proxies, say) goes on while the probe waits."""
    return await asyncio.to_thread(get, f"http://127.0.0.1:{port}{path}")


async def until(port: int, path: str, status: int, timeout_s: float = 15, see: str = "") -> dict[str, Any]:
    """The body once ``path`` answers ``status``; fails after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got, body = await probe(port, path)
        if got == status:
            return body
        assert time.monotonic() < deadline, f"{path} still {got} {body}, not {status} {see}"
        await asyncio.sleep(0.2)
