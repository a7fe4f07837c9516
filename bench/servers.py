"""Starting the services (or the bare baseline) under uvicorn or granian, for measurement."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.servers import free_port, wait_answering


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
        wait_answering(f"http://127.0.0.1:{port}{health}", f"{target} under {server}", lambda: process.poll() is None)
        yield port
    finally:
        process.terminate()
        process.wait(20)
