"""How long after a write do the running totals reflect it?

Starts the platform (`cpted dev --no-demo`, on the servers named by
CPTED_DATABASE_URL / CPTED_REDIS_URL, else embedded ones) with a scratch
data directory, then makes sequential writes (one recommendation each) and,
after each, polls ``/v1/totals`` until the new recommendation is counted.
Prints p50/p90/p99/max of: the write itself, acknowledged write → visible in
totals, and the whole round trip. Loopback only, bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

RESULTS = Path(__file__).parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_platform(var_dir: Path, ports: dict[str, int]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CPTED_VAR_DIR=str(var_dir), CPTED_CONSUMER_BLOCK_MS="1000")
    args = [sys.executable, "-m", "cpted", "dev", "--no-demo"] + [f"--{s}-port={p}" for s, p in ports.items()]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(var_dir: Path, ports: dict[str, int], timeout_s: float = 90) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        key_file = var_dir / "dev-api-key"
        try:
            if key_file.exists() and all(
                httpx.get(f"http://127.0.0.1:{p}/readyz", timeout=1).status_code == 200 for p in ports.values()
            ):
                return key_file.read_text().strip()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the platform did not start")


def measure(api: httpx.Client, metrics: httpx.Client, writes: int, deadline_s: float) -> dict[str, list[float]]:
    ring = [[-83.0, 42.3], [-82.99, 42.3], [-82.99, 42.31], [-83.0, 42.3]]
    boundary = {"type": "Polygon", "coordinates": [ring]}
    n = api.post("/v1/neighbourhoods", json={"name": "Bench", "municipality": "Windsor", "boundary": boundary})
    n.raise_for_status()
    nid = n.json()["id"]
    p = api.post("/v1/partnerships", json={"name": f"Bench {time.time()}", "police_service": "WPS",
                                            "neighbourhood_ids": [nid]})  # fmt: skip
    pid = p.json()["id"]
    a = api.post("/v1/audits", json={"partnership_id": pid, "neighbourhood_id": nid, "site_name": "Bench",
                                      "conducted_on": "2025-01-01"})  # fmt: skip
    aid = a.json()["id"]
    samples: dict[str, list[float]] = {"write": [], "ack_to_visible": [], "round_trip": []}
    stop_at = time.monotonic() + deadline_s
    for i in range(writes):
        if time.monotonic() > stop_at:
            break
        t0 = time.perf_counter()
        r = api.post(f"/v1/audits/{aid}/recommendations", json={"category": "lighting", "description": f"lamp {i}"})
        r.raise_for_status()
        t1 = time.perf_counter()
        while True:
            totals = metrics.get("/v1/totals", params={"partnership_id": pid}).json()
            if totals["recommendations"] >= i + 1:
                break
            if time.perf_counter() - t1 > 10:
                raise SystemExit(f"write {i} not visible after 10 s")
        t2 = time.perf_counter()
        samples["write"].append((t1 - t0) * 1000)
        samples["ack_to_visible"].append((t2 - t1) * 1000)
        samples["round_trip"].append((t2 - t0) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args()
    ports = {"audits": free_port(), "events": free_port(), "metrics": free_port()}
    with tempfile.TemporaryDirectory(prefix="cpted-bench-") as tmp:
        var_dir = Path(tmp)
        platform = start_platform(var_dir, ports)
        try:
            headers = {"Authorization": f"Bearer {wait_ready(var_dir, ports)}"}
            with (
                httpx.Client(base_url=f"http://127.0.0.1:{ports['audits']}", headers=headers) as api,
                httpx.Client(base_url=f"http://127.0.0.1:{ports['metrics']}", headers=headers) as metrics,
            ):
                samples = measure(api, metrics, args.writes, args.max_seconds)
        finally:
            platform.send_signal(signal.SIGINT)
            platform.wait(60)
    rows = {
        name: {
            "n": len(v),
            "p50_ms": round(statistics.median(v), 2),
            "p90_ms": round(percentile(v, 90), 2),
            "p99_ms": round(percentile(v, 99), 2),
            "max_ms": round(max(v), 2),
        }
        for name, v in samples.items()
    }
    print(f"{'measure':<16}{'n':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, row in rows.items():
        print(f"{name:<16}{row['n']:>6}{row['p50_ms']:>10}{row['p90_ms']:>10}{row['p99_ms']:>10}{row['max_ms']:>10}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "write_to_totals.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
