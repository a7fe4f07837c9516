"""Write → ``/v1/totals`` latency at a steady write rate, and totals latency at 1k vs 1M applied events."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import orjson

from bench.api import _setup
from bench.common import Figure
from bench.load import _read_response, request_bytes
from bench.servers import serving


@contextmanager
def pipeline() -> Iterator[None]:
    """The audits relay and one metrics consumer, as processes."""
    procs = [
        subprocess.Popen([sys.executable, "-m", "cpted", *args], env=dict(os.environ),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for args in (["relay", "audits"], ["consume"])
    ]  # fmt: skip
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)


async def _open_loop(port: int, request: bytes, rate: float, seconds: float, acks: list[float]) -> tuple[int, float]:
    """Send at a steady rate over a pool of keep-alive connections, whatever the answers' pace.

    Returns how many were sent and when sending began."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(32):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))

    async def one() -> None:
        reader, writer = await pool.get()
        writer.write(request)
        status = await _read_response(reader)
        if 200 <= status < 300:
            acks.append(time.perf_counter())
        pool.put_nowait((reader, writer))

    tasks, start, sent = [], time.perf_counter(), 0
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) * rate)
        while sent < due:
            tasks.append(asyncio.ensure_future(one()))
            sent += 1
        await asyncio.sleep(0.0005)
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait()[1].close()
    return sent, start


async def _watch(url: str, headers: dict[str, str], until: list[bool], seen: list[tuple[float, int]]) -> None:
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        while not until:
            count = (await client.get("/v1/totals")).json()["recommendations"]
            seen.append((time.perf_counter(), count))


def _wait_until_applied(metrics_url: str, headers: dict[str, str], timeout_s: float = 60) -> int:
    """Start measuring only once the relay and the consumer run and have applied everything written before
    (the set-up, and earlier measurements in the same database). Returns the recommendations counted then,
    which the measured writes add to."""
    deadline, last = time.monotonic() + timeout_s, -1
    while time.monotonic() < deadline:
        try:
            totals = httpx.get(f"{metrics_url}/v1/totals", headers=headers).json()
            count = int(totals["recommendations"])
            if totals["audits"] >= 1 and totals["lag_events"] == 0 and count == last:
                return count
            last = count
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the relay and consumer never applied the set-up")


def _visibility(acks: list[float], seen: list[tuple[float, int]], before: int) -> list[float]:
    """For the k-th acknowledged write, the time until the totals first count k writes more than ``before``
    (earlier measurements wrote into the same database). A write never seen counts as never visible."""
    acks.sort()
    counts = [c - before for _, c in seen]
    delays = []
    for k, acked in enumerate(acks, start=1):
        i = bisect_left(counts, k)
        delays.append(max(0.0, seen[i][0] - acked) * 1000 if i < len(seen) else float("inf"))
    return delays


async def steady_figures(key: str, rate: float = 500, seconds: float = 10) -> list[Figure]:
    headers = {"Authorization": f"Bearer {key}"}
    body = orjson.dumps({"category": "lighting", "description": "Install LED lighting along the alley"})
    with ExitStack() as stack:
        audits_port = stack.enter_context(serving("services.audits.app:create_app", health="/healthz"))
        metrics_port = stack.enter_context(serving("services.metrics.app:create_app", health="/healthz"))
        stack.enter_context(pipeline())
        audit_id = _setup(audits_port, key)
        before = _wait_until_applied(f"http://127.0.0.1:{metrics_port}", headers)
        request = request_bytes("POST", f"/v1/audits/{audit_id}/recommendations", body,
                                {"Content-Type": "application/json", **headers})  # fmt: skip
        acks: list[float] = []
        seen: list[tuple[float, int]] = []
        stop: list[bool] = []
        watcher = asyncio.ensure_future(_watch(f"http://127.0.0.1:{metrics_port}", headers, stop, seen))
        sent, start = await _open_loop(audits_port, request, rate, seconds, acks)
        await asyncio.sleep(2)
        stop.append(True)
        await watcher
    return [_steady_figure(rate, sent, start, acks, _visibility(acks, seen, before))]


def _steady_figure(rate: float, sent: int, start: float, acks: list[float], delays: list[float]) -> Figure:
    """Met only if every write was acknowledged, at the asked rate, and seen in the totals within the target."""
    name = f"write -> totals p99 at {rate:.0f} writes/s"
    errors = sent - len(acks)
    if not delays:
        return Figure(name, float("inf"), "ms", None, "", "p99 < 50 ms", False, f"{errors} of {sent} writes failed")
    p50, p99 = statistics.median(delays), statistics.quantiles(delays + delays[-1:], n=100)[98]
    achieved = len(acks) / max(acks[-1] - start, 1e-9)
    met = p99 < 50 and errors == 0 and achieved >= 0.95 * rate
    note = f"{achieved:.0f} of {rate:.0f} writes/s acknowledged, {errors} failed; p50 {p50:.1f} ms"
    return Figure(name, p99, "ms", None, "", "p99 < 50 ms", met, note)


def totals_latency(metrics_url: str, key: str, requests: int = 300) -> float:
    """Median latency of GET /v1/totals, in ms."""
    with httpx.Client(base_url=metrics_url, headers={"Authorization": f"Bearer {key}"}) as client:
        client.get("/v1/totals")
        samples = []
        for _ in range(requests):
            start = time.perf_counter()
            client.get("/v1/totals").raise_for_status()
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
