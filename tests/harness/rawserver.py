"""A TCP server on 127.0.0.1 that answers with scripted bytes: what a real HTTP server
would never send (broken framing, interim answers, headers trickled a byte at a time).

It serves one connection at a time in one thread, so the test's own thread and socket
counts only change by what the code under test does.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

Answer = Callable[[socket.socket, threading.Event], None]


def reply(data: bytes) -> Answer:
    """Send ``data`` at once, then close."""
    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(data)
    return answer


def trickle(head: bytes, data: bytes, every: float) -> Answer:
    """Send ``head`` at once, then ``data`` one byte every ``every`` seconds."""
    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head)
        for byte in data:
            if stop.wait(every):
                return
            conn.sendall(bytes([byte]))
    return answer


class RawServer:
    """Answer every connection with ``answer`` after reading the request head."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._serve, name="rawserver", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        block = conn.recv(65536)
                        if not block:
                            break
                        head += block
                    self.requests.append(head.partition(b"\r\n\r\n")[0])
                    self.answer(conn, self.stop)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def established_to(port: int) -> int:
    """How many TCP connections of this machine to 127.0.0.1:``port`` are established on
    the client's side (a socket the code under test left open)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if remote_port == port and fields[3] == "01":  # 01: ESTABLISHED
                        count += 1
        except FileNotFoundError:
            continue
    return count
