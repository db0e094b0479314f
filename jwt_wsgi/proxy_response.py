"""The reverse proxy's response side: the upstream's answer, cleaned, or a 502.

An answer is passed on only when its framing is unambiguous (RFC 9112 6.3): a
``Transfer-Encoding`` other than exactly ``chunked``, ``Transfer-Encoding`` together with
``Content-Length``, and ``Content-Length`` values that differ or are not numbers are
refused, as are a ``101`` (the proxy never asks for an upgrade) and a header section
that does not parse (a line without a colon, whitespace before the colon). Interim answers
(``103 Early Hints`` and the other 1xx) are read and dropped, never taken for the answer.
Headers get the request side's cleaning: hop-by-hop and ``Connection``-named headers
are dropped (``Transfer-Encoding`` never reaches the WSGI server, which frames the body
itself), names that are not HTTP tokens are dropped, and CR, LF and NUL in a value
(an obs-fold) become one space.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Iterator
from typing import Any

from .proxy_request import HOP_BY_HOP, named_in_connection, unfold
from .settings import HTTP_TOKEN

logger = logging.getLogger("jwt_wsgi")

#: The most interim (1xx) answers read before the real one; more is a 502.
MAX_INTERIM = 16
_MAX_LINE = 65536
_MAX_FIELDS = 100
_CHUNK = 64 * 1024


class Unframeable(http.client.HTTPException):
    """The upstream's answer cannot be passed on safely (the message is for the log)."""


class UpstreamResponse(http.client.HTTPResponse):
    """An :class:`http.client.HTTPResponse` that reads past every interim answer.

    http.client skips ``100 Continue`` only and returns a ``103 Early Hints`` as if it
    were the answer, leaving the real one unread on the connection.
    """

    def _read_status(self) -> tuple[str, int, str]:
        for _ in range(MAX_INTERIM):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            _skip_fields(self.fp)
        raise Unframeable("too many interim (1xx) answers")


def _skip_fields(stream: Any) -> None:
    """Read an interim answer's header fields up to the blank line that ends them."""
    for _ in range(_MAX_FIELDS + 1):
        line = stream.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise Unframeable("header line too long in an interim answer")
        if line in (b"\r\n", b"\n", b""):
            return
    raise Unframeable("too many header fields in an interim answer")


def check_framing(response: http.client.HTTPResponse) -> None:
    """Refuse an answer whose body length the proxy and the client could read differently.

    :raises Unframeable: saying what is wrong, for the log.
    """
    if response.status == 101:
        raise Unframeable("101 Switching Protocols, though no upgrade was asked for")
    if response.status > 599:
        raise Unframeable(f"status {response.status} out of range")
    if response.msg.defects:
        # a line without a colon, a space before one, a continuation line first: the
        # parser stopped there, and what follows (Content-Length too) would be body
        raise Unframeable("malformed header section")
    codings = [coding.strip().lower() for value in response.msg.get_all("Transfer-Encoding", [])
               for coding in value.split(",") if coding.strip()]
    lengths = [value.strip() for value in response.msg.get_all("Content-Length", [])]
    if codings or response.msg.get_all("Transfer-Encoding"):
        if codings != ["chunked"]:
            raise Unframeable("a Transfer-Encoding other than chunked")
        if lengths:
            raise Unframeable("both Transfer-Encoding and Content-Length")
    elif lengths and (len(set(lengths)) > 1
                      or not all(value.isascii() and value.isdigit() for value in lengths)):
        raise Unframeable("conflicting or invalid Content-Length values")


def response_headers(response: http.client.HTTPResponse) -> list[tuple[str, str]]:
    """The headers to pass on: end-to-end ones only, each on one line."""
    named_hop = named_in_connection(", ".join(response.msg.get_all("Connection", [])))
    headers: list[tuple[str, str]] = []
    length_seen = False
    for name, value in response.getheaders():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in named_hop or not HTTP_TOKEN.fullmatch(name):
            continue
        if lower == "content-length":
            if length_seen:  # repeated with the same value (check_framing): keep one
                continue
            length_seen = True
        headers.append((name, unfold(value).strip(" \t")))
    return headers


class UpstreamBodyCut(Exception):
    """The upstream's body ended early or past the deadline, after the status was sent:
    raised so that the WSGI server drops the connection instead of ending the body as if
    it were whole."""


class Body:
    """The upstream's body, streamed; the connection closes when the server closes us."""

    def __init__(self, connection: http.client.HTTPConnection,
                 response: http.client.HTTPResponse, upstream: str) -> None:
        self._connection = connection
        self._response = response
        self._upstream = upstream

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                # read1: what has arrived, so a streamed answer flows as it comes
                chunk = self._response.read1(_CHUNK)
                if not chunk:
                    if self._response.length:  # announced, never sent: not a whole body
                        raise http.client.IncompleteRead(b"", self._response.length)
                    return
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            logger.warning("upstream %s: response body cut (%s)", self._upstream,
                           type(exc).__name__)
            raise UpstreamBodyCut(type(exc).__name__) from None

    def close(self) -> None:
        self._response.close()
        self._connection.close()
