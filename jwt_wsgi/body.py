"""Reading a request body for a token without taking it away from the app.

The body is read at most once, up to ``max_body_size``; a declared length over the limit
is refused before a byte is read. What was read is put back as ``wsgi.input`` (a
``BytesIO`` holding exactly those bytes) with a matching ``CONTENT_LENGTH``, so the app
downstream reads the body the client sent, as often as it likes.

PEP 3333 says a server need not give end-of-file on ``wsgi.input``: without a
``CONTENT_LENGTH`` the body is only read when the server says the stream ends
(``wsgi.input_terminated``, set for chunked bodies by werkzeug, gunicorn and others);
otherwise it is treated as empty and left alone, as werkzeug does.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from werkzeug.http import parse_options_header

from .errors import BodyTooLargeError, InvalidRequestError
from .pairs import query_values

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: Where the buffered body is kept, so that a second reader (JSON token, CSRF form
#: field) does not read the stream again.
BODY_KEY = "jwt_wsgi.body"
#: The most parts of a ``multipart/form-data`` body parsed for the CSRF field (werkzeug's
#: ``Request.max_form_parts`` and Django's field limit): 20-40 ms of parsing at most, what
#: the app pays again when it reads the form.
MAX_FORM_PARTS = 1000
#: The most values (counted as ``,``, ``[`` and ``{``) of a JSON body searched for a token:
#: a few milliseconds of parsing. A larger body counts as carrying no token.
MAX_JSON_VALUES = 4096
_CHUNK = 64 * 1024


def media_type(environ: WSGIEnvironment) -> str:
    """The request's media type, lower-cased, without parameters."""
    return parse_options_header(str(environ.get("CONTENT_TYPE", "")))[0].lower()


def is_json(environ: WSGIEnvironment) -> bool:
    """``application/json`` or any ``+json`` type, as Flask's ``request.is_json``."""
    kind = media_type(environ)
    return kind == "application/json" or (kind.startswith("application/") and
                                          kind.endswith("+json"))


def read_body(environ: WSGIEnvironment, max_size: int) -> bytes:
    """The request body, read once and put back for the app.

    Hand-written, not webob's ``make_body_seekable``/``copy_body``: those read a body
    without ``Content-Length`` to its end, with no bound on its size.

    :raises BodyTooLargeError: when the body is, or says it is, over ``max_size`` bytes.
    :raises InvalidRequestError: for a bad ``CONTENT_LENGTH`` or a body shorter than it.
    """
    cached = environ.get(BODY_KEY)
    if isinstance(cached, bytes):
        return cached
    length = _declared_length(environ)
    stream = environ.get("wsgi.input")
    if length is None:
        if not environ.get("wsgi.input_terminated") or stream is None:
            return b""  # no length and no end-of-file promise: reading could block
        data = _read(stream, max_size + 1)
        if len(data) > max_size:
            raise BodyTooLargeError()
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # the app now gets a plain, sized body
    else:
        if length > max_size:
            raise BodyTooLargeError()
        data = _read(stream, length) if length and stream is not None else b""
        if len(data) != length:
            raise InvalidRequestError("Request body shorter than its Content-Length")
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ[BODY_KEY] = data
    return data


def read_json(environ: WSGIEnvironment, max_size: int) -> Any:
    """The JSON body, or ``None`` when the request has no JSON body, or one too large to
    search for a token (more than :data:`MAX_JSON_VALUES` values).

    Duplicate object keys are refused: two values for a token key are as ambiguous as
    two ``Authorization`` headers.

    :raises InvalidRequestError: for a body that is not well-formed UTF-8 JSON.
    """
    if not is_json(environ):
        return None
    data = read_body(environ, max_size)
    if not data.strip():
        return None
    # Parsing costs 0.1-0.35 us a value (an object goes through the duplicate-key hook):
    # 1 MiB of them took 60-120 ms. A body holding more values than a request that sends
    # its token in JSON ever does is not searched; its token, if any, is not found there.
    if data.count(b",") + data.count(b"[") + data.count(b"{") > MAX_JSON_VALUES:
        return None
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys,
                          parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("Malformed JSON body") from None
    except RecursionError:
        raise InvalidRequestError("JSON body nested too deeply") from None


def read_form(environ: WSGIEnvironment, max_size: int, name: str, longest: int) -> list[str]:
    """The values of the field ``name`` in an ``application/x-www-form-urlencoded`` or
    ``multipart/form-data`` body (files left out), empty ones left out; ``[]`` for any
    other body. Only the field's own pairs of an urlencoded body are read
    (:func:`~jwt_wsgi.pairs.query_values`).

    :param longest: the longest value taken, in characters as sent; a longer one is
        refused before it is decoded.
    :raises InvalidRequestError: for a body that cannot be read or parsed, a value over
        ``longest``, or a multipart body of more than :data:`MAX_FORM_PARTS` parts.
    :raises TooManyOccurrences: for a field written more than 64 times.
    """
    kind = media_type(environ)
    if kind == "application/x-www-form-urlencoded":
        text = read_body(environ, max_size).decode("latin-1")
        raw = query_values(text, name)
        if any(len(value) > longest for value in raw):
            raise InvalidRequestError(f'Form field "{name}" too long')
        # decoded as parse_qsl decodes (UTF-8, errors replaced): the app reads it so
        return [unquote_plus(value) for value in raw]
    if kind == "multipart/form-data":
        from werkzeug.exceptions import HTTPException
        from werkzeug.formparser import parse_form_data

        data = read_body(environ, max_size)
        if name.encode("utf-8") not in data:  # not there: nothing to parse
            return []
        # werkzeug parses a part in 20-40 us: a 1 MiB body of empty parts took 0.5 s.
        # Counted first (a C loop), so a body over the bound costs no parsing at all.
        boundary = parse_options_header(str(environ.get("CONTENT_TYPE", "")))[1].get(
            "boundary", "")
        if boundary and data.count(b"--" + boundary.encode("latin-1")) > MAX_FORM_PARTS + 1:
            raise InvalidRequestError(f"More than {MAX_FORM_PARTS} parts in the form body")
        copy = dict(environ, **{"wsgi.input": io.BytesIO(data)})
        try:
            _, form, _ = parse_form_data(copy, silent=False, max_content_length=max_size,
                                         max_form_parts=MAX_FORM_PARTS)
        except (ValueError, HTTPException):
            raise InvalidRequestError("Malformed form body") from None
        return [value for value in form.getlist(name) if value]
    return []


def _declared_length(environ: WSGIEnvironment) -> int | None:
    value = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not value:
        return None
    if not value.isdigit() or not value.isascii():
        raise InvalidRequestError("Invalid Content-Length")
    return int(value)


def _read(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes: a stream may return less than asked, so read until done."""
    parts: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
