"""The reverse proxy's request side: what leaves for the upstream, and what never does.

Header cleaning (hop-by-hop, ``Connection``-named, forwarding and claim headers, line
breaks), the target (dot segments refused, the client's bytes percent-encoded again) and
the body (held to ``max_body_size``). :mod:`jwt_wsgi.proxy_response` cleans the answer.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from typing import Any
from urllib.parse import quote, unquote

from .routes import MAX_DECODES

#: RFC 9110 7.6.1: headers that concern one connection only, never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
# The server already answered Expect: 100-continue; http.client cannot wait for it anyway.
NOT_FORWARDED = frozenset({"host", "content-length", "expect"})
#: Forwarding headers a client could forge to pose as another address, host or scheme: never
#: passed on as sent (in any spelling); the proxy sets X-Forwarded-For/-Proto/-Host/-Port.
FORWARDING = frozenset({
    "forwarded", "x-real-ip", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
    "x-forwarded-port", "x-forwarded-prefix", "x-forwarded-server", "x-forwarded-ssl",
    "x-forwarded-scheme", "x-forwarded-protocol", "x-url-scheme", "front-end-https",
    "x-client-ip", "true-client-ip", "x-cluster-client-ip"})
PLAIN_VALUE = re.compile(r"[\x20-\x7e]*")
# RFC 9112 5.2: an obs-fold (CRLF then SP/HTAB) becomes SP before forwarding; so does any
# other run of CR, LF and NUL a server left in a value, with the blanks around it. The
# pattern starts at a break only: a leading ``[ \t]*`` would be tried from every blank of
# a long run and backtrack quadratically (64 KiB of blanks took 30 s); the blanks before a
# break are stripped from each piece instead.
_LINE_BREAK = re.compile(r"[\r\n\x00][\r\n\x00 \t]*")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7f) if chr(c) not in "\"#<>\\^`{|}")
_CHUNK = 64 * 1024
_SEPARATOR = re.compile(r"[/\\]")
# Overlong UTF-8 for '.', '/' and '\' (2, 3 and 4 bytes), which lenient decoders accept,
# matched on the latin-1 text of the bytes; and IIS's %uXXXX escapes.
_OVERLONG = re.compile("\xc0[\xae\xaf]|\xe0\x80[\xae\xaf]|\xf0\x80\x80[\xae\xaf]|\xc1\x9c")
_OVERLONG_CHAR = {"\xae": ".", "\xaf": "/", "\x9c": "\\"}
_U_ESCAPE = re.compile(r"%u([0-9A-Fa-f]{4})")


def environ_key(header: str) -> str:
    """The WSGI environ key a server uses for a header: ``X-Jwt-Sub`` -> ``HTTP_X_JWT_SUB``."""
    return "HTTP_" + header.upper().replace("-", "_")


def unfold(value: str) -> str:
    """A header value on one line, as RFC 9112 5.2 has a proxy forward an obs-fold.

    Each obs-fold (CRLF then SP or HTAB) and any other run of CR, LF and NUL, with the
    blanks around it, becomes one SP. wsgiref keeps ``X-Foo: a`` and a folded line
    ``X-Jwt-Role: root`` as ``'a\\r\\n X-Jwt-Role: root'``; sent on as is, an upstream
    that does not fold lines would read a claim header the proxy never set.
    """
    if "\r" in value or "\n" in value or "\x00" in value:
        *lines, last = _LINE_BREAK.split(value)
        return " ".join([line.rstrip(" \t") for line in lines] + [last])
    return value


def named_in_connection(value: str | None) -> set[str]:
    """The header names a ``Connection`` header lists (lower case): hop-by-hop too."""
    return {token.strip().lower() for token in (value or "").split(",")}


def without_parameter(query: str, names: str | frozenset[str]) -> str:
    """``query`` without the parameters called ``names`` (one name or a set), in any
    percent-encoded spelling of the name; the others are kept as sent.

    One regex substitution (:func:`_parameters`), not a loop over the pairs: a 256 KiB
    query of encoded names took 110 ms that way.
    """
    if isinstance(names, str):
        names = frozenset({names})
    return _parameters(names).sub("", "&" + query)[1:]


def without_cookies(header: str, names: frozenset[str]) -> str:
    """A ``Cookie`` header without the cookies called ``names``; the others as sent, each
    stripped and joined with ``"; "``."""
    kept = "; ".join(filter(None, map(str.strip, header.split(";"))))
    if not any(name in kept for name in names):
        return kept
    return _cookies(names).sub("", "; " + kept)[2:]


@functools.lru_cache(maxsize=64)
def _parameters(names: frozenset[str]) -> re.Pattern[str]:
    """``&NAME[=VALUE]`` for each name, its characters written plainly or as ``%XX``
    (either case; a blank also as ``+``): what ``unquote_plus`` reads as the name."""
    def spellings(char: str) -> str:
        forms = [re.escape(char), "".join(f"%[{b >> 4:X}{b >> 4:x}][{b & 15:X}{b & 15:x}]"
                                          for b in char.encode("utf-8"))]
        if char == " ":
            forms.append("\\+")
        return "(?:" + "|".join(forms) + ")"

    alternatives = "|".join("".join(spellings(c) for c in name) for name in sorted(names))
    return re.compile(f"&(?:{alternatives})(?:=[^&]*)?(?=&|\\Z)")


@functools.lru_cache(maxsize=64)
def _cookies(names: frozenset[str]) -> re.Pattern[str]:
    """``; NAME[ =VALUE]`` for each name, in a header already stripped and joined."""
    alternatives = "|".join(re.escape(name) for name in sorted(names))
    return re.compile(f"; (?:{alternatives})(?:\\s*=[^;]*)?(?=;|\\Z)")


def has_dot_segment(path: str) -> bool:
    """Whether some reading of ``path`` has a ``.`` or ``..`` segment.

    A segment counts by its part before ``;`` (Tomcat, Jetty and Spring drop path
    parameters before resolving: ``/..;x/`` is ``/../``), with ``\\`` as a separator too,
    in each of the first layers of percent-decoding (``%252e%252e``), and read leniently:
    overlong UTF-8 (``%c0%ae``), IIS ``%u002e`` and NFKC compatibility forms (the
    fullwidth ``U+FF0E``, the two-dot leader ``U+2025``) as the characters they stand for.
    """
    for _ in range(MAX_DECODES + 1):
        if any(_is_dot(segment) for reading in _readings(path)
               for segment in _SEPARATOR.split(reading)):
            return True
        decoded = unquote(path, encoding="latin-1") if "%" in path else path
        if decoded == path:
            return False
        path = decoded
    return False


def _is_dot(segment: str) -> bool:
    return segment.partition(";")[0] in (".", "..")


def _readings(text: str) -> tuple[str, ...]:
    """``text`` (one character a byte, as PEP 3333 gives paths) as written, and as the
    most lenient decoders would read it."""
    lenient = _OVERLONG.sub(lambda match: _OVERLONG_CHAR[match.group()[-1]], text)
    lenient = _U_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), lenient)
    try:
        unicode = lenient.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a server that handed over real Unicode
        unicode = lenient
    return text, lenient, unicodedata.normalize("NFKC", unicode)


def quote_query(query: str) -> str:
    """``QUERY_STRING`` with what http.client cannot send (non-ASCII bytes from the
    client, spaces, control characters) percent-encoded; the rest as the client wrote it."""
    try:
        raw = query.encode("latin-1")
    except UnicodeEncodeError:
        raw = query.encode("utf-8", "surrogatepass")
    return quote(raw, safe=_QUERY_SAFE)


def quote_path(path: str) -> str:
    """``PATH_INFO`` back to the bytes the client sent, percent-encoded.

    PEP 3333 gives the path as latin-1 text (one character a byte): ``/caf%C3%A9`` arrives
    as ``'/caf\\xc3\\xa9'`` and must leave as ``/caf%C3%A9``, not as the UTF-8 of each
    character. A server that hands over real Unicode (outside latin-1) gets UTF-8.
    """
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogatepass")
    return quote(raw, safe=_PATH_SAFE)


def header_value(value: Any) -> str:
    """A claim as a header value: plain ASCII strings as is, anything else as ASCII JSON.

    A string goes as JSON too when sending it as is would make it read as another value:
    surrounding spaces (HTTP drops them, `` alice `` would arrive as ``alice``) or text that
    parses as JSON (``"zo\\u00eb"``, ``42``, ``["a"]``). So the upstream's rule "JSON if it
    parses, else the text" gives back exactly the claim.
    """
    if isinstance(value, str) and PLAIN_VALUE.fullmatch(value) and value == value.strip(" \t"):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


class BadLength(Exception):
    """The request's Content-Length is not a number."""


class TooLarge(Exception):
    """The request body is over ``max_body_size``."""


def request_body(environ: Any, headers: dict[str, str], max_body_size: int,
                 deadline: Any) -> Any:
    """The request body for http.client: streamed when its length is known.

    :raises TooLarge: when the body is, or says it is, over ``max_body_size``; a declared
        length is refused before a byte is read, a chunked body (which must be buffered
        to send it with a length) after at most ``max_body_size + 1`` bytes.
    :raises BadLength: a ``Content-Length`` that is not a number.
    """
    stream = environ.get("wsgi.input")
    length = str(environ.get("CONTENT_LENGTH") or "").strip()
    if stream is None:
        return None
    if length and not (length.isascii() and length.isdigit()):  # "²" passes isdigit()
        raise BadLength()
    if length and int(length) > 0:
        if int(length) > max_body_size:
            raise TooLarge()
        headers["Content-Length"] = length
        return Limited(stream, int(length), deadline)
    data = b""
    if environ.get("wsgi.input_terminated") and not length:
        # a chunked request body; the server marks its end
        data = _read_at_most(stream, max_body_size + 1, deadline)
        if len(data) > max_body_size:
            raise TooLarge()
    if data or environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH"):
        headers["Content-Length"] = str(len(data))
        return bytes(data)
    return None


def _read_at_most(stream: Any, limit: int, deadline: Any) -> bytes:
    """Up to ``limit`` bytes of ``stream``, read in blocks (a read may return fewer)."""
    parts: list[bytes] = []
    total = 0
    while total < limit:
        deadline.remaining()  # a client trickling its body counts against the exchange
        block: bytes = stream.read(min(_CHUNK, limit - total))
        if not block:
            break
        parts.append(block)
        total += len(block)
    return b"".join(parts)


class Limited:
    """At most ``remaining`` bytes of a WSGI input stream, read by http.client in blocks
    until the exchange's deadline."""

    def __init__(self, stream: Any, remaining: int, deadline: Any) -> None:
        self._stream = stream
        self._remaining = remaining
        self._deadline = deadline

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        self._deadline.remaining()
        size = self._remaining if size < 0 else min(size, self._remaining)
        data: bytes = self._stream.read(size)
        self._remaining -= len(data)
        if not data:
            self._remaining = 0
        return data

