"""Real parts for forward auth: an echoing upstream, a WSGI server, nginx and Caddy.

Everything listens on 127.0.0.1, on ports picked by binding port 0, and is stopped by
whoever started it (the context managers here). The nginx and Caddy configurations are the
files in ``examples/forward_auth``, with their example ports (8000 for the proxy, 9000 for
the auth service, 9001 for the upstream) replaced. Also used by ``benchmarks/forward_auth.py``.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "forward_auth"
EXAMPLE_PORTS = {"proxy": 8000, "auth": 9000, "upstream": 9001}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, process: subprocess.Popen[bytes] | None = None,
              timeout: float = 20.0) -> None:
    """Wait (bounded) until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Seen:
    """One request as the upstream received it: the raw target and headers as sent."""

    method: str
    target: str
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        """Values of every header whose name a WSGI server would fold into ``name``."""
        key = name.lower().replace("_", "-")
        return [value for header, value in self.headers
                if header.lower().replace("_", "-") == key]


@dataclass
class Upstream:
    """A tiny HTTP server that records each request and echoes it back as JSON."""

    port: int
    seen: list[Seen] = field(default_factory=list)


@contextlib.contextmanager
def upstream() -> Iterator[Upstream]:
    record = Upstream(0)

    class Echo(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            seen = Seen(self.command, self.path, list(self.headers.items()))
            record.seen.append(seen)
            body = json.dumps({"method": seen.method, "target": seen.target,
                               "headers": seen.headers}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = handle_one

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    record.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def wsgi_server(app: Callable[..., Any]) -> Iterator[int]:
    """Serve a WSGI app with werkzeug's threaded server on 127.0.0.1; yields the port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        server.server_close()


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
            wait_port(port, process)
        except RuntimeError as exc:
            details = log.read_text() if log is not None and log.exists() else ""
            raise RuntimeError(f"{exc}\n{details}") from None
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


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[0] if found else None


def raw_request(port: int, target: str, method: str = "GET",
                headers: list[tuple[str, str]] | None = None, timeout: float = 10.0) -> Reply:
    """Send a request line exactly as written (no client normalises it) and read the reply."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = [tuple(line.split(":", 1)) for line in header_lines if ":" in line]
    pairs = [(name.strip(), value.strip()) for name, value in parsed]
    if any(name.lower() == "transfer-encoding" for name, _ in pairs):
        body = _unchunk(body)
    return Reply(int(status_line.split()[1]), pairs, body)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out
