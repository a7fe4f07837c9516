"""Starting the services (or the bare baseline) under uvicorn or granian, for measurement."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.servers import free_port


def command(server: str, target: str, port: int, workers: int) -> list[str]:
    # The same settings for both servers, so that only the server differs.
    common = ["--factory", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
              "--no-access-log", "--log-level", "warning", target]  # fmt: skip
    interface = ["--interface", "asgi"] if server == "granian" else []
    return [sys.executable, "-m", server, *interface, *common]


@contextmanager
def serving(target: str, server: str = "uvicorn", workers: int = 1, health: str = "/openapi.json") -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        command(server, target, port, workers),
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{target} did not start under {server}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(20)
