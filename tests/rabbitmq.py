"""A RabbitMQ virtual host of a test's own, on the machine's RabbitMQ, dropped with everything in it afterwards.

``CPTED_TEST_RABBITMQ_URL`` names the server (default ``amqp://guest:guest@127.0.0.1:5672``). The virtual host is
made with ``rabbitmqctl`` where it may be run, else through the management API (``CPTED_TEST_RABBITMQ_API``,
default ``http://127.0.0.1:15672``). A test run that finds no RabbitMQ, or cannot make a virtual host on it,
skips the RabbitMQ tests and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

import httpx
import pytest
from kombu import Connection

SERVER = os.environ.get("CPTED_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
API = os.environ.get("CPTED_TEST_RABBITMQ_API", "http://127.0.0.1:15672")


def _reachable() -> str | None:
    """Why RabbitMQ cannot be used, or None."""
    try:
        with Connection(f"{SERVER}/", connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as error:  # any failure to connect is a reason to skip, said in the skip message
        return f"RabbitMQ is not reachable at {urlsplit(SERVER).hostname}:{urlsplit(SERVER).port}: {error}"
    return None


def _rabbitmqctl(*args: str) -> bool:
    if shutil.which("rabbitmqctl") is None:
        return False
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=60, check=False)
    return done.returncode == 0


def _api(method: str, path: str, body: dict[str, str] | None = None) -> bool:
    parts = urlsplit(SERVER)
    try:
        r = httpx.request(method, f"{API}{path}", json=body, auth=(parts.username or "", parts.password or ""))
    except httpx.HTTPError:
        return False
    return r.status_code < 300


def _user() -> str:
    return urlsplit(SERVER).username or "guest"


def _create(vhost: str) -> bool:
    everything = (".*", ".*", ".*")
    if _rabbitmqctl("add_vhost", vhost) and _rabbitmqctl("set_permissions", "-p", vhost, _user(), *everything):
        return True
    path = quote(vhost, safe="")
    permissions = dict(zip(("configure", "write", "read"), everything, strict=True))
    return _api("PUT", f"/api/vhosts/{path}") and _api("PUT", f"/api/permissions/{path}/{_user()}", permissions)


def _drop(vhost: str) -> None:
    if not _rabbitmqctl("delete_vhost", vhost):
        _api("DELETE", f"/api/vhosts/{quote(vhost, safe='')}")


@contextmanager
def rabbitmq_vhost(name: str) -> Iterator[str]:
    """The broker URL of a new virtual host ``name``; skips the test when RabbitMQ cannot be used."""
    why = _reachable()
    if why:
        pytest.skip(why)
    if not _create(name):
        pytest.skip(f"RabbitMQ answers but no virtual host can be made (rabbitmqctl, or the management API at {API})")
    try:
        yield f"{SERVER}/{quote(name, safe='')}"
    finally:
        _drop(name)
