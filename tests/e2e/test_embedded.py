"""`make run` itself: `cpted dev` on the embedded PostgreSQL and Redis, with the demo data."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import LOGS, Platform
from tests.e2e.scenario import Ledger, implement, wait_for, write_world
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.embedded]

REPORTED = {
    "partnerships": 4,
    "audits": 20,
    "recommendations": 201,
    "recommendations_implemented": 27,
    "special_events": 19,
}


def _start_dev(var_dir: Path, ports: dict[str, int]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPTED_")}
    env["CPTED_VAR_DIR"] = str(var_dir)
    args = [sys.executable, "-m", "cpted", "dev"] + [f"--{s}-port={p}" for s, p in ports.items()]
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / "cpted-dev.log", "ab")  # kept open for the life of the process
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_for_totals(var_dir: Path, metrics_url: str, timeout_s: float = 240) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        key_file = var_dir / "dev-api-key"
        if key_file.exists():
            try:
                r = httpx.get(
                    f"{metrics_url}/v1/totals", headers={"Authorization": f"Bearer {key_file.read_text().strip()}"}
                )
                body = r.json() if r.status_code == 200 else {}
                # Both relays have published once events are applied too; lag 0 then means all applied.
                if body and body["lag_events"] == 0 and body["audits"] > 0 and body["special_events"] > 0:
                    return body
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise TimeoutError(f"cpted dev did not serve totals; see {LOGS / 'cpted-dev.log'}")


def _stop(dev: subprocess.Popen[bytes]) -> None:
    dev.send_signal(signal.SIGINT)
    assert dev.wait(60) == 0


@pytest.fixture(scope="module")
def dev_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, int]]]:
    var_dir = tmp_path_factory.mktemp("var")
    ports = {"audits": free_port(), "events": free_port(), "metrics": free_port()}
    dev = _start_dev(var_dir, ports)
    try:
        yield var_dir, ports
    finally:
        if dev.poll() is None:
            _stop(dev)


def test_make_run_serves_the_programme_figures_and_keeps_them_across_restarts(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    var_dir = tmp_path_factory.mktemp("var")
    ports = {"audits": free_port(), "events": free_port(), "metrics": free_port()}
    metrics_url = f"http://127.0.0.1:{ports['metrics']}"
    dev = _start_dev(var_dir, ports)
    try:
        first = _wait_for_totals(var_dir, metrics_url)
        assert {k: first[k] for k in REPORTED} == REPORTED
        assert (var_dir / "pg" / "PG_VERSION").exists()
        assert (var_dir / "redis" / "redis.sock").exists()
    finally:
        _stop(dev)
    assert not (var_dir / "servers.json").exists()
    dev = _start_dev(var_dir, ports)
    try:
        again = _wait_for_totals(var_dir, metrics_url)
        assert {k: again[k] for k in REPORTED} == REPORTED
    finally:
        _stop(dev)


def test_the_end_to_end_scenario_on_the_embedded_servers(dev_platform: tuple[Path, dict[str, int]]) -> None:
    var_dir, ports = dev_platform
    _wait_for_totals(var_dir, f"http://127.0.0.1:{ports['metrics']}")
    platform = Platform(env={}, ports=ports)
    headers = {"Authorization": f"Bearer {(var_dir / 'dev-api-key').read_text().strip()}"}

    async def scenario() -> None:
        async with (
            httpx.AsyncClient(base_url=platform.url("audits"), headers=headers, timeout=30) as api,
            httpx.AsyncClient(base_url=platform.url("metrics"), headers=headers, timeout=30) as metrics,
        ):
            ledger = Ledger()
            world = await write_world(api, ledger, audits=3, recs_per_audit=6)
            for rec_id in list(ledger.recs)[:4]:
                await implement(api, ledger, rec_id)
            await wait_for(metrics, ledger, world["partnership"]["id"])
            overall = (await metrics.get("/v1/totals")).json()
            assert overall["audits"] == 20 + 3
            assert overall["recommendations_implemented"] == 27 + 4

    asyncio.run(scenario())
