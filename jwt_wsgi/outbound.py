"""Outbound HTTP with one deadline for the whole exchange (the reverse proxy, JWKS fetches).

A socket timeout bounds each operation only: a server that sends a byte just inside the
timeout, again and again, holds the connection (and the thread waiting on it) as long as
it likes, during the headers as well as the body. Here a connection carries a
:class:`Deadline`, and each connect, send and receive is given only the time left before
it, so connecting, sending, the status line, the headers and the body together end by the
deadline. Nothing runs in the background: the thread that made the exchange is the one
that gives up, and it closes the socket as it does.

Name resolution (``getaddrinfo``) is the one step no socket timeout reaches; configure
upstreams and JWKS URLs by names the local resolver answers at once (or by address).

::

    deadline = Deadline(5.0)
    connection = HTTPConnection("127.0.0.1", 8080, deadline=deadline)
    connection.request("GET", "/")
    body = connection.getresponse().read()   # TimeoutError once 5 s have passed
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.request
from typing import Any


class Deadline:
    """A moment on the monotonic clock by which an exchange must be over.

    :param seconds: the time from now the exchange may take, connection included.
    """

    __slots__ = ("at",)

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; :class:`TimeoutError` when none are.

        :raises TimeoutError: the deadline has passed.
        """
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the exchange did not finish within its deadline")
        return left


class _Armed:
    """Sets the socket timeout to the time left before every blocking operation."""

    deadline: Deadline | None = None

    def _arm(self) -> None:
        if self.deadline is not None:
            self.settimeout(self.deadline.remaining())  # type: ignore[attr-defined]

    def recv(self, *args: Any) -> bytes:
        self._arm()
        return super().recv(*args)  # type: ignore[misc,no-any-return]

    def recv_into(self, *args: Any) -> int:
        self._arm()
        return super().recv_into(*args)  # type: ignore[misc,no-any-return]

    def send(self, *args: Any) -> int:
        self._arm()
        return super().send(*args)  # type: ignore[misc,no-any-return]

    def sendall(self, *args: Any) -> None:
        # A plain socket's sendall counts its timeout for the whole call; TLS sockets
        # send piece by piece through send(), which is armed itself.
        self._arm()
        super().sendall(*args)  # type: ignore[misc]


class DeadlineSocket(_Armed, socket.socket):
    """A TCP socket whose every operation ends by its :attr:`deadline`."""


class DeadlineSSLSocket(_Armed, ssl.SSLSocket):
    """A TLS socket whose every operation ends by its :attr:`deadline` (the handshake is
    bounded by the timeout set just before it, which CPython counts for the whole
    handshake)."""


_tls_context: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The default verifying TLS context, making :class:`DeadlineSSLSocket` sockets."""
    global _tls_context
    if _tls_context is None:
        context = ssl.create_default_context()
        context.sslsocket_class = DeadlineSSLSocket
        _tls_context = context
    return _tls_context


def open_socket(address: tuple[str, int], deadline: Deadline,
                source_address: tuple[str, int] | None = None) -> DeadlineSocket:
    """Connect to ``address`` within ``deadline``, trying each address it resolves to.

    :raises OSError: no address could be reached (:class:`TimeoutError` when the
        deadline passed first).
    """
    host, port = address
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, 0,
                                                                socket.SOCK_STREAM):
        sock = DeadlineSocket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        sock.deadline = deadline
        return sock
    raise error or OSError(f"{host} resolves to no address")


class HTTPConnection(http.client.HTTPConnection):
    """:class:`http.client.HTTPConnection` whose whole exchange ends by ``deadline``."""

    def __init__(self, host: str, port: int | None = None, *, deadline: Deadline,
                 **options: Any) -> None:
        options["timeout"] = max(deadline.at - time.monotonic(), 0.001)
        super().__init__(host, port, **options)
        self.deadline = deadline
        self._create_connection = self._open

    def _open(self, address: tuple[str, int], timeout: Any = None,
              source_address: tuple[str, int] | None = None) -> socket.socket:
        return open_socket(address, self.deadline, source_address)


class HTTPSConnection(http.client.HTTPSConnection):
    """:class:`http.client.HTTPSConnection` whose whole exchange, TLS handshake included,
    ends by ``deadline``."""

    def __init__(self, host: str, port: int | None = None, *, deadline: Deadline,
                 context: ssl.SSLContext | None = None, **options: Any) -> None:
        if context is None:
            context = tls_context()
        elif context.sslsocket_class is not DeadlineSSLSocket:
            raise ValueError("the TLS context must make DeadlineSSLSocket sockets")
        options["timeout"] = max(deadline.at - time.monotonic(), 0.001)
        super().__init__(host, port, context=context, **options)
        self.deadline = deadline
        self._create_connection = self._open

    def _open(self, address: tuple[str, int], timeout: Any = None,
              source_address: tuple[str, int] | None = None) -> socket.socket:
        sock = open_socket(address, self.deadline, source_address)
        sock.settimeout(self.deadline.remaining())  # the handshake, which comes next
        return sock

    def connect(self) -> None:
        super().connect()
        if isinstance(self.sock, DeadlineSSLSocket):
            self.sock.deadline = self.deadline


class HTTPHandler(urllib.request.HTTPHandler):
    """urllib's handler for ``http://``, with one :class:`Deadline` for every hop."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        deadline = self.deadline

        def connection(host: str, **options: Any) -> HTTPConnection:
            return HTTPConnection(host, deadline=deadline, **options)

        return self.do_open(connection, req)


class HTTPSHandler(urllib.request.HTTPSHandler):
    """urllib's handler for ``https://``, with one :class:`Deadline` for every hop."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        deadline = self.deadline

        def connection(host: str, **options: Any) -> HTTPSConnection:
            options.pop("context", None)
            options.pop("check_hostname", None)
            return HTTPSConnection(host, deadline=deadline, **options)

        return self.do_open(connection, req)
