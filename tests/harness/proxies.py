"""Real proxies for forward auth: nginx and Caddy, run from the example configurations.

Everything listens on 127.0.0.1, on ports picked by binding port 0, and is stopped by
whoever started it (the context managers here). The nginx and Caddy configurations are the
files in ``examples/forward_auth``, with their example ports (8000 for the proxy, 9000 for
the auth service, 9001 for the upstream) replaced. Also used by ``benchmarks/forward_auth.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .servers import free_port, wait_for_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "forward_auth"
EXAMPLE_PORTS = {"proxy": 8000, "auth": 9000, "upstream": 9001}


def with_ports(text: str, ports: dict[str, int]) -> str:
    """An example configuration with its example ports replaced by ``ports``."""
    for role, example in EXAMPLE_PORTS.items():
        text = text.replace(f"127.0.0.1:{example}", f"127.0.0.1:{ports[role]}")
    return text


@contextlib.contextmanager
def _process(argv: list[str], port: int, env: dict[str, str] | None = None,
             log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                               if log is None else subprocess.DEVNULL, env=env)
    try:
        try:
            wait_for_port(port, process)
        except AssertionError as exc:
            details = log.read_text() if log is not None and log.exists() else ""
            raise AssertionError(f"{exc}\n{details}") from None
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def nginx(auth_port: int, upstream_port: int,
          config: Path = EXAMPLES / "nginx.conf") -> Iterator[int]:
    """Run nginx with ``config`` (its example ports replaced) in a temporary prefix."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="jwt-nginx-") as tmp:
        prefix = Path(tmp)
        (prefix / "logs").mkdir()
        (prefix / "tmp").mkdir()
        os.chmod(prefix / "tmp", 0o777)  # workers run as nobody when started by root
        conf = prefix / "nginx.conf"
        conf.write_text(with_ports(config.read_text(), {
            "proxy": port, "auth": auth_port, "upstream": upstream_port}))
        argv = [binary, "-p", str(prefix), "-e", str(prefix / "logs" / "error.log"),
                "-c", str(conf), "-g", f"daemon off; pid {prefix / 'nginx.pid'};"]
        with _process(argv, port, log=prefix / "logs" / "error.log"):
            yield port


@contextlib.contextmanager
def caddy(auth_port: int, upstream_port: int,
          config: Path = EXAMPLES / "Caddyfile") -> Iterator[int]:
    """Run Caddy with ``config`` (its example ports replaced); its files stay in a tmp dir."""
    binary = shutil.which("caddy") or "/usr/bin/caddy"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="jwt-caddy-") as tmp:
        home = Path(tmp)
        caddyfile = home / "Caddyfile"
        caddyfile.write_text(with_ports(config.read_text(), {
            "proxy": port, "auth": auth_port, "upstream": upstream_port}))
        env = dict(os.environ, HOME=tmp, XDG_DATA_HOME=str(home / "data"),
                   XDG_CONFIG_HOME=str(home / "config"))
        argv = [binary, "run", "--config", str(caddyfile), "--adapter", "caddyfile"]
        with _process(argv, port, env):
            yield port
