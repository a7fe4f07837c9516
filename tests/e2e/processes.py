"""Real platform processes on free ports, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cpted.dev import KEEP_ALIVE_S
from tests.servers import free_port, wait_answering

LOGS = Path(os.environ.get("CPTED_TEST_LOG_DIR", "/tmp/cpted-e2e-logs"))


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = open(LOGS / f"{self.name}.log", "ab")
        self.popen = subprocess.Popen(self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def signal(self, sig: int) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(sig)
            self.popen.wait(15)

    def stop(self) -> None:
        self.signal(signal.SIGTERM)


@dataclass
class Platform:
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, Process] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start_service(self, service: str, name: str | None = None) -> None:
        """A process of ``service``; ``name`` another replica of it, on a port of its own."""
        name = name or service
        port = self.ports.setdefault(name, free_port())
        args = [sys.executable, "-m", "uvicorn", "--factory", f"services.{service}.app:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                "--timeout-keep-alive", str(KEEP_ALIVE_S)]  # fmt: skip
        self.procs[name] = Process(name, args, self.env).start()

    def start_cli(self, name: str, *args: str, **env: str) -> Process:
        proc = Process(name, [sys.executable, "-m", "cpted", *args], self.env | env).start()
        self.procs[name] = proc
        return proc

    def wait_ready(self, timeout_s: float = 120) -> None:
        # Every process imports the scientific stack at once: on a busy two-core runner that alone can pass 30 s.
        deadline = time.monotonic() + timeout_s
        for service in self.ports:
            left = max(0.0, deadline - time.monotonic())
            wait_answering(f"{self.url(service)}/readyz", f"{service} not ready; see {LOGS}", timeout_s=left)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()
