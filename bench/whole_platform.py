"""The whole platform under open-loop traffic, stepped up until it misses the target.

The processes are those of ``make run`` (``cpted.dev.children``): the three
APIs, the audits and events relays, the metrics consumer, the Celery worker and
beat. Each step offers a steady rate for a few seconds, starting once the
previous writes are all applied, while a reader watches ``/v1/totals``. A write
is visible when the totals count it; its latency runs from when it was due to
be sent to the answer of the first read that counts it. The figure is the
highest offered rate of a step with p99 under 50 ms, every request answered
2xx, every write seen and the offered rate achieved. The steps double from 10/s
up to the first that fails, then halve the interval between the highest rate that
passed and the lowest that failed (``REFINE`` times), so the figure is not just
the power of two below the limit.

The reader reads the totals as a live dashboard does, by long poll: each read
names the tag of the totals it holds and asks to wait (``Prefer: wait``), and is
answered once the consumer has applied a batch (or after ``WAIT_S``, unchanged).
Polling back to back instead would make the bench's own reads a large part of
what the two cores do (about a third of a core at one read per 5 ms). A write's
latency is taken to the answer of the first read that counts it, which comes
after the batch's commit, so the reader can only make a figure worse, never
better.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson
import psutil
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.api import _setup
from bench.common import Figure, percentile
from bench.load import OK, Connections, Request, Run, open_loop, request_bytes
from cpted.dev import Platform, Ports, children
from cpted.platform import ensure_service_key
from shared.settings import Settings
from tests.servers import free_port, wait_answering

TARGET_MS = 50.0
FIRST_RATE, LAST_RATE = 10.0, 2560.0
REFINE = 2
"""Halvings of the interval between the highest rate passed and the lowest failed."""
WAIT_S = 2
"""Seconds a totals read may wait for a change (below the generator's 5 s timeout)."""
SETTLE_S = 120.0
SEEN_WITHIN_S = 5.0
AUDITS = 4


@dataclass
class Traffic:
    name: str
    unit: str
    target_rate: float
    pick: Callable[[int], Request]
    counters: tuple[str, ...]
    """The totals counters its writes add to; a write request's kind names its counter."""


def visibility(due: list[float], seen: list[tuple[float, int]]) -> list[float]:
    """Milliseconds from each write's due time until the totals count it (``inf``: never).

    ``seen`` holds each read's answer time and how many of the writes it counted. The k-th write due is taken
    as visible at the first read counting k: it cannot be earlier, as k writes were then sent and committed."""
    times, counts = [t for t, _ in seen], list(accumulate((c for _, c in seen), max))
    delays = []
    for k, sent in enumerate(sorted(due), start=1):
        i = bisect_left(counts, k)
        delays.append((times[i] - sent) * 1000 if i < len(counts) else math.inf)
    return delays


@contextmanager
def running(settings: Settings, service_key: str) -> Iterator[Platform]:
    """The ``make run`` processes on free ports, on the benchmark's database and Redis; output to a log file."""
    var = Path(tempfile.mkdtemp(prefix="cpted-bench-platform-"))
    ports = Ports(audits=free_port(), events=free_port(), metrics=free_port())
    platform = Platform(settings.model_copy(update={"var_dir": var}), ports, demo=False, service_key=service_key)
    env = platform.environment(settings.resolved_database_url(), settings.resolved_redis_url())
    platform.procs = children(ports)
    with (var / "processes.log").open("wb") as log:
        try:
            for child in platform.procs:
                child.start(env, log)
            for service in ("audits", "events", "metrics"):
                what = f"{service} (log: {log.name})"
                wait_answering(f"{ports.url(service)}/healthz", what, lambda: not _dead(platform))
            yield platform
        finally:
            platform.stop()


def cpu_seconds(platform: Platform) -> dict[str, float]:
    """CPU seconds used so far by each platform process (with its worker processes), PostgreSQL and Redis (every
    process of the servers on this machine) and this load generator."""
    used: Counter[str] = Counter()

    def add(name: str, process: psutil.Process) -> None:
        with suppress(psutil.Error):
            times = process.cpu_times()
            used[name] += times.user + times.system

    for child in platform.procs:
        if child.process is not None and child.alive():
            with suppress(psutil.Error):
                root = psutil.Process(child.process.pid)
                for process in [root, *root.children(recursive=True)]:
                    add(child.name, process)
    for process in psutil.process_iter(["name"]):
        name = process.info["name"] or ""
        if name.startswith(("postgres", "redis-server")):
            add(name.split()[0].split(":")[0], process)
    add("load generator", psutil.Process())
    return dict(used)


def cpu_shares(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    """Each process's CPU over ``seconds``, in % of one core, busiest first."""
    shares = {name: (after[name] - before.get(name, 0.0)) / seconds * 100 for name in after}
    return ", ".join(f"{name} {share:.0f}%" for name, share in sorted(shares.items(), key=lambda kv: -kv[1]))


def _dead(platform: Platform) -> list[str]:
    return [child.name for child in platform.procs if not child.alive()]


class Totals:
    """Reads ``/v1/totals`` over one keep-alive connection."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers
        self.conns = Connections(1)
        self.failures: Counter[str] = Counter()
        self.tag = ""

    async def read(self, changed: bool = False) -> tuple[float, dict[str, Any] | None]:
        """The totals now, or (``changed``) once they differ from the last read, or None after ``WAIT_S``."""
        wait = {"If-None-Match": self.tag, "Prefer": f"wait={WAIT_S}"} if changed and self.tag else {}
        request = Request("totals", self.port, request_bytes("GET", "/v1/totals", b"", self.headers | wait))
        answer = await self.conns.send(request, time.perf_counter())
        if answer.outcome == "http 304":
            return answer.answered, None
        if answer.outcome != OK:
            self.failures[f"totals read {answer.outcome}"] += 1
            await asyncio.sleep(0.05)  # not a busy loop while the service is away
            return answer.answered, None
        self.tag = answer.etag
        return answer.answered, orjson.loads(answer.body)

    async def settled(self) -> dict[str, Any]:
        """The totals once the consumer has applied everything published and they stop changing."""
        deadline, last = time.monotonic() + SETTLE_S, None
        while time.monotonic() < deadline:
            _, totals = await self.read()
            counts = totals and {k: v for k, v in totals.items() if k != "as_of"}
            if totals is not None and totals["lag_events"] == 0 and counts == last:
                self.failures.clear()
                return totals
            last = counts
            await asyncio.sleep(0.3)
        raise RuntimeError("the relays and the consumer never caught up")


async def step(platform: Platform, totals: Totals, traffic: Traffic, rate: float, seconds: float) -> Figure:
    before = await totals.settled()
    seen: list[tuple[float, dict[str, Any]]] = []
    ran: list[Run] = []
    all_seen = asyncio.Event()

    async def watch() -> None:
        while not all_seen.is_set():
            answered, now = await totals.read(changed=True)
            if now is not None:
                seen.append((answered, now))
            if ran and _all_seen(ran[0], traffic, before, seen):
                all_seen.set()

    watcher = asyncio.ensure_future(watch())
    cpu_before, began = cpu_seconds(platform), time.perf_counter()
    ran.append(run := await open_loop(traffic.pick, rate, seconds))
    cpu = cpu_shares(cpu_before, cpu_seconds(platform), time.perf_counter() - began)
    with suppress(TimeoutError):
        await asyncio.wait_for(all_seen.wait(), SEEN_WITHIN_S)
    all_seen.set()
    await watcher
    figure = _step_figure(
        traffic, rate, run, before, seen, totals.failures + Counter(f"{name} died" for name in _dead(platform))
    )
    figure.note += f"; CPU (% of one core, of 2): {cpu}"
    return figure


def _all_seen(run: Run, traffic: Traffic, before: dict[str, Any], seen: list[tuple[float, dict[str, Any]]]) -> bool:
    return bool(seen) and all(seen[-1][1][c] - before[c] >= len(run.ok(c)) for c in traffic.counters)


def _step_figure(
    traffic: Traffic, rate: float, run: Run, before: dict[str, Any], seen: list[tuple[float, dict[str, Any]]],
    failures: Counter[str],
) -> Figure:  # fmt: skip
    writes: list[float] = []
    for c in traffic.counters:
        writes += visibility([a.due for a in run.ok(c)], [(t, now[c] - before[c]) for t, now in seen])
    reads = [a.ms for a in run.ok("read")]
    failures.update(run.failures())
    failures["unseen"] += sum(1 for d in writes if math.isinf(d))
    p99 = percentile(writes, 99)
    note = f"write -> totals p50 {percentile(writes, 50):.1f} ms (totals read by long poll)"
    if reads:
        note += f"; reads p50 {percentile(reads, 50):.1f} ms, p99 {percentile(reads, 99):.1f} ms"
    note += f"; sends late p99 {percentile(run.late, 99) * 1000:.1f} ms"
    return Figure(
        f"platform {traffic.name} p99 at {rate:g} {traffic.unit}", p99, "ms", target=f"p99 < {TARGET_MS:g} ms",
        target_met=p99 < TARGET_MS and (not reads or percentile(reads, 99) < TARGET_MS), note=note,
        samples=len(run.ok()), failures={k: v for k, v in failures.items() if v}, offered=rate, achieved=run.achieved,
    )  # fmt: skip


def passes(step: Figure) -> bool:
    return bool(step.met) and not step.failures


async def stepped(platform: Platform, totals: Totals, traffic: Traffic, seconds: float) -> list[Figure]:
    """One figure per step, and the highest rate that passed below every rate that failed."""
    steps: list[Figure] = []

    def results() -> list[tuple[float, bool]]:
        return [(s.offered or 0.0, passes(s)) for s in steps]

    for rate in rates_to_try(results):
        steps.append(await step(platform, totals, traffic, rate, seconds))
    highest = highest_passed(results())
    best = next((s for s in steps if s.offered == highest and passes(s)), None)
    rate = (best.offered or 0.0) if best else 0.0
    note = f"at {rate:g}/s: {best.note}" if best else "no step passed"
    failed = min((s for s in steps if not passes(s)), key=lambda s: s.offered or 0.0, default=None)
    if failed is not None:
        why = [] if failed.target_met else [f"p99 not under {TARGET_MS:g} ms"]
        why += failed.flaws() + [f"{n} {cause}" for cause, n in sorted(failed.failures.items())]
        note += f"; at {failed.offered:g}/s: {', '.join(why)}"
    summary = Figure(
        f"platform {traffic.name}: highest rate at p99 < {TARGET_MS:g} ms", rate, traffic.unit,
        target=f">= {traffic.target_rate:g}", target_met=rate >= traffic.target_rate, note=note,
        samples=best.samples if best else 0, failures=best.failures if best else {},
        offered=best.offered if best else None, achieved=best.achieved if best else None,
    )  # fmt: skip
    return [*sorted(steps, key=lambda s: s.offered or 0.0), summary]


def highest_passed(results: list[tuple[float, bool]]) -> float | None:
    """The highest rate that passed below every rate that failed: a pass above a failure is luck."""
    failed_at = min((rate for rate, ok in results if not ok), default=math.inf)
    return max((rate for rate, ok in results if ok and rate < failed_at), default=None)


def rates_to_try(results: Callable[[], list[tuple[float, bool]]]) -> Iterator[float]:
    """The offered rates, each chosen after the results so far (``(rate, passed)``): doubling from ``FIRST_RATE``
    until a step fails, then ``REFINE`` midpoints between the highest rate passed and the lowest failed."""
    rate = FIRST_RATE
    while rate <= LAST_RATE:
        yield rate
        if not all(ok for _, ok in results()):
            break
        rate *= 2
    for _ in range(REFINE):
        done = results()
        failed, passed = min((r for r, ok in done if not ok), default=None), highest_passed(done)
        if failed is None or passed is None:
            return
        middle = round((passed + failed) / 20) * 10
        if middle in (passed, failed):
            return
        yield middle


def traffics(ports: Ports, key: str) -> list[Traffic]:
    """Writes alone (recommendations over several audits), then 80 % reads (lists and totals) and 20 % writes
    (recommendations and events)."""
    auth = {"Authorization": f"Bearer {key}"}
    json = {"Content-Type": "application/json", **auth}
    audits = [_setup(ports.audits, key) for _ in range(AUDITS)]
    advice = orjson.dumps({"category": "lighting", "description": "Install LED lighting along the alley"})
    recommendations = [
        Request("recommendations", ports.audits,
                request_bytes("POST", f"/v1/audits/{a['id']}/recommendations", advice, json))
        for a in audits
    ]  # fmt: skip
    events = [
        Request("events", ports.events, request_bytes("POST", "/v1/events", orjson.dumps({
            "partnership_ids": [a["partnership_id"]], "neighbourhood_id": a["neighbourhood_id"],
            "name": "Block party", "kind": "community_event", "starts_at": "2025-06-01T18:00:00-04:00"}), json))
        for a in audits
    ]  # fmt: skip
    writes = [r for pair in zip(recommendations, events, strict=True) for r in pair]
    reads = [
        Request("read", ports.audits, request_bytes("GET", "/v1/audits?limit=20", b"", auth)),
        Request("read", ports.events, request_bytes("GET", "/v1/events?limit=20", b"", auth)),
        Request("read", ports.metrics, request_bytes("GET", "/v1/totals", b"", auth)),
    ]
    return [
        Traffic("write -> totals", "writes/s", 300, lambda i: recommendations[i % AUDITS], ("recommendations",)),
        Traffic("mixed 80/20", "req/s", 800,
                lambda i: writes[i // 5 % len(writes)] if i % 5 == 4 else reads[i % len(reads)],
                ("recommendations", "events")),
    ]  # fmt: skip


async def figures(settings: Settings, engine: AsyncEngine, key: str, seconds: float) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="cpted-bench-key-") as keys:
        service_key = await ensure_service_key(engine, Path(keys))
    measured: list[Figure] = []
    with running(settings, service_key) as platform:
        totals = Totals(platform.ports.metrics, {"Authorization": f"Bearer {key}"})
        for traffic in traffics(platform.ports, key):
            measured += await stepped(platform, totals, traffic, seconds)
        totals.conns.close()
    return measured
