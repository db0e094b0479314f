"""Path readings: the ways the routers and servers behind us may read one PATH_INFO.

A rule protects a path if it protects any reading of it. What each router or server does to
a path before it matches is kept as data in :data:`ROUTERS`, one row a router; the readings
:func:`readings` makes are the union of what those rows ask for, and a test checks that
every row is covered. Converter readings (how a router's ``<int:>`` reads ``-1``) are in
the same rows; :mod:`jwt_wsgi.rules` compiles them.
"""

from __future__ import annotations

import binascii
import re
from typing import NamedTuple

from .errors import InvalidRequestError


class Router(NamedTuple):
    """What one router or server does to a path before it routes it."""

    #: who does it
    name: str
    #: repeated slashes: ``"keep"``, ``"collapse"`` (all), ``"collapse-leading"``
    slashes: str
    #: ``"."`` and ``".."``: ``"value"`` (handed to a converter as is) or ``"resolve"``
    dots: str
    #: percent-decoding layers it (or a proxy in front of it) undoes after the server's one
    decodes: int
    #: bytes that are not UTF-8: ``"latin-1"`` (PEP 3333), ``"drop"``, ``"percent"``
    invalid_utf8: str
    #: how its converters read values: ``"regex"`` (werkzeug's on PEP 3333 text),
    #: ``"text"`` (werkzeug's on the UTF-8 text), ``"lenient"`` (what ``int()``,
    #: ``float()``, ``uuid.UUID()`` take; empty values)
    converters: str
    #: it puts back a leading slash a server left out (``files/..``)
    adds_slash: bool = False
    #: it reads an absolute-form target (``http://host/a``) as its path
    absolute_form: bool = False
    #: it reads ``/..;x/`` as ``/../`` (path parameters stripped before dot segments)
    dot_params: bool = False


#: The routers and servers jwt_wsgi reads paths for. Changing a row changes the readings.
ROUTERS: tuple[Router, ...] = (
    Router("werkzeug (PEP 3333 text)", "keep", "value", 0, "latin-1", "regex", adds_slash=True),
    Router("werkzeug merge_slashes", "collapse", "value", 0, "latin-1", "regex"),
    Router("Flask (UTF-8 text)", "collapse-leading", "value", 0, "latin-1", "text"),
    Router("Bottle", "keep", "value", 0, "drop", "lenient"),
    Router("Falcon", "collapse-leading", "value", 0, "latin-1", "lenient"),
    Router("Django", "keep", "value", 0, "percent", "lenient"),
    Router("Pyramid", "keep", "value", 0, "latin-1", "text"),
    Router("nginx / normalising proxy", "collapse", "resolve", 0, "latin-1", "regex"),
    Router("proxy or app that decodes again", "collapse", "resolve", 3, "latin-1", "regex"),
    Router("wsgiref (absolute-form target)", "keep", "value", 0, "latin-1", "regex",
           absolute_form=True),
    Router("Tomcat / Jetty / Spring behind us", "collapse", "resolve", 1, "latin-1", "regex",
           dot_params=True),
)

#: Percent-decoding layers read, at most (the deepest any row asks for).
MAX_DECODES = max(router.decodes for router in ROUTERS)
_COLLAPSE = {router.slashes for router in ROUTERS} - {"keep"}
_INVALID_UTF8 = {router.invalid_utf8 for router in ROUTERS} - {"latin-1"}
_RESOLVE = any(router.dots == "resolve" for router in ROUTERS)
_ADDS_SLASH = any(router.adds_slash for router in ROUTERS)
_ABSOLUTE = any(router.absolute_form for router in ROUTERS)
_DOT_PARAMS = any(router.dot_params for router in ROUTERS)

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SLASHES = re.compile(r"/{2,}")
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/]*")
# A segment whose part before ";" is a dot segment: "/..;x/", "..;jsessionid=1", "/.;/".
_DOT_PARAM = re.compile(r"(?:^|[/\\])\.{1,2};")
_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")
_NOT_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_SURROGATE = re.compile("[\udc80-\udcff]")
# Django's reading of a byte that is not UTF-8: "%FF" (surrogateescape keeps it as U+DCFF).
_PERCENT_BYTE = {0xDC00 + byte: f"%{byte:02X}" for byte in range(0x80, 0x100)}


def canonical(path: str) -> str:
    """Resolve dot segments, collapse repeated slashes, drop a trailing slash."""
    path = path.replace("\\", "/")
    if "/." not in path and not path.startswith("."):
        return "/" + "/".join(segment for segment in path.split("/") if segment)
    segments: list[str] = []
    for segment in [segment for segment in path.split("/") if segment and segment != "."]:
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


def origin_form(path_info: str) -> str:
    """The path of an absolute-form target: ``http://host/a`` -> ``/a``; other paths as given.

    wsgiref hands ``GET http://host/a`` on as PATH_INFO ``http://host/a``; the router reads
    ``/a`` from it, and :class:`~jwt_wsgi.proxy.ReverseProxy` forwards that same ``/a``.
    """
    absolute = None if path_info.startswith("/") else _ABSOLUTE_FORM.match(path_info)
    if absolute is None:
        return path_info
    return path_info[absolute.end():] or "/"


def pep3333(path_info: str) -> str:
    """PATH_INFO in the latin-1-of-UTF-8 space the rules use, or a 400."""
    path = path_info or "/"
    if not path.isascii():
        try:
            path.encode("latin-1")
        except UnicodeEncodeError:
            # Not PEP 3333 text: bring it into the latin-1-of-UTF-8 space the rules use.
            try:
                path = path.encode("utf-8", "surrogateescape").decode("latin-1")
            except UnicodeEncodeError:  # a lone surrogate: no bytes could have sent it
                raise InvalidRequestError("Invalid characters in path") from None
    if CONTROL.search(path):
        raise InvalidRequestError("Invalid characters in path")
    return path


def is_plain(path: str) -> bool:
    """Whether every reading of ``path`` is ``path`` itself: an ASCII path that starts with
    a slash and holds no ``%``, ``//``, dot segment, backslash, control character or
    trailing slash."""
    # str methods and "in" run in C; isprintable() is false for every control character.
    return path[:1] == "/" and path.isascii() and path.isprintable() and "%" not in path \
        and "//" not in path and "/." not in path and "\\" not in path \
        and (path[-1] != "/" or len(path) == 1)


def readings(path_info: str) -> tuple[str, ...]:
    """The readings of PATH_INFO that an app or a server behind us might act on.

    PATH_INFO as delivered; with repeated slashes collapsed (all of them, or only the
    leading ones), dot segments kept; its canonical form; the same once more
    percent-decoded (up to three layers, while that changes it), so an encoded ``%2e%2e``
    or ``%2f`` cannot hide a protected path; with a leading slash put back; an
    absolute-form target's path; and bytes that are not UTF-8 dropped or written ``%XX``.

    :raises InvalidRequestError: control characters in any reading, or a dot segment with
        path parameters (``/..;x/``) in any layer of encoding.
    """
    path = pep3333(path_info)
    if is_plain(path):
        return (path,)
    if _DOT_PARAMS:
        _refuse_dot_params(path)
    if _ADDS_SLASH and not path.startswith("/") and _ABSOLUTE_FORM.match(path) is None:
        # wsgiref, waitress and werkzeug's server hand on a target without its leading
        # slash ("files/.."); werkzeug's router puts one back and keeps the dots.
        return tuple(dict.fromkeys([*readings("/" + path), path]))
    rest = origin_form(path) if _ABSOLUTE else path
    if rest != path:
        # An absolute-form request target (``GET http://host/admin``, RFC 9112 3.2.2)
        # that the server handed on as is (wsgiref does): its path is a reading too.
        return tuple(dict.fromkeys([*readings(rest), path, canonical(path)]))
    if "%" not in path and "//" not in path and "/." not in path and "\\" not in path \
            and not (path.endswith("/") and len(path) > 1) and path.startswith("/") \
            and (path.isascii() or _is_utf8(path)):
        return (path,)
    once: dict[str, str] = {}  # both loops below often decode the same text

    def unquote_once(text: str) -> str:
        if text not in once:
            once[text] = unquote(text)
        return once[text]

    found = [path, canonical(path)] if _RESOLVE else [path]
    # Repeated slashes collapsed, dot segments kept (werkzeug hands ``.`` and ``..`` to a
    # converter as values), and only the leading ones collapsed (what Flask and Falcon
    # ignore, keeping ``//`` further on inside a ``<path:>`` value).
    collapsed = _collapsed(path)
    # Decode again while it changes anything (bounded): a layer of encoding that some
    # proxy or app undoes must not hide a protected path.
    for _ in range(MAX_DECODES):
        if "%" not in found[-1]:
            break
        decoded = canonical(unquote_once(found[-1]))
        if decoded == found[-1]:
            break
        if CONTROL.search(decoded):
            raise InvalidRequestError("Invalid characters in path")
        found.append(decoded)
    # The same layers decoded without normalising in between: a proxy that decodes
    # ``/%61dmin/%2e%2e`` hands on ``/admin/..``, which a router may match as ``/admin/<path>``.
    raw, layers = path, []
    for _ in range(MAX_DECODES):
        if "%" not in raw:
            break
        decoded = unquote_once(raw)
        if decoded == raw:
            break
        if CONTROL.search(decoded):
            raise InvalidRequestError("Invalid characters in path")
        if _DOT_PARAMS:
            _refuse_dot_params(decoded)
        layers += [decoded, *_collapsed(decoded), canonical(decoded)]
        raw = decoded
    every = [path, *collapsed, *found[1:2], *layers, *found[2:]]
    # Bottle decodes the path with errors="ignore": bytes that are not UTF-8 vanish
    # (``/admin%FF`` is routed as ``/admin``); Django writes them ``%FF``.
    unique = dict.fromkeys(every)
    if _INVALID_UTF8:
        unique.update(dict.fromkeys(other for reading in list(unique) if not reading.isascii()
                                    for other in _without_invalid_utf8(reading)))
    return tuple(unique)


def _refuse_dot_params(path: str) -> None:
    """A dot segment with path parameters (``/..;x/``, ``/.;/``) is a 400: Tomcat, Jetty
    and Spring strip the parameters and then resolve ``..``, other routers do not, so no
    reading could tell where it leads."""
    if ";" in path and _DOT_PARAM.search(path) is not None:
        raise InvalidRequestError("Dot segment with path parameters")


def _is_utf8(path: str) -> bool:
    try:
        path.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _collapsed(path: str) -> list[str]:
    if "//" not in path or not _COLLAPSE:
        return []
    return [_SLASHES.sub("/", path), "/" + path.lstrip("/")]


def _without_invalid_utf8(reading: str) -> list[str]:
    """Bottle's reading of bytes that are not UTF-8 (dropped) and Django's (``%FF``)."""
    raw = reading.encode("latin-1")
    escaped = raw.decode("utf-8", "surrogateescape")
    if escaped.isascii() or _SURROGATE.search(escaped) is None:
        return []
    dropped = raw.decode("utf-8", "ignore").encode("utf-8").decode("latin-1")
    quoted = escaped.translate(_PERCENT_BYTE).encode("utf-8").decode("latin-1")
    return [dropped, *_collapsed(dropped), canonical(dropped), quoted]


def unquote(path: str) -> str:
    """Percent-decode PEP 3333 text once, as ``urllib.parse.unquote_to_bytes`` does (a ``%``
    not followed by two hex digits stays), in C: quoted-printable decoding of the same
    escapes written ``=XX``. Python's own loop costs ten times more on a long path."""
    data = path.encode("latin-1")
    if _ESCAPE.search(data) is None:
        return path
    data = data.replace(b"=", b"=3D")
    if _NOT_ESCAPE.search(data) is not None:
        data = _NOT_ESCAPE.sub(b"=25", data)
    return binascii.a2b_qp(data.replace(b"%", b"=")).decode("latin-1")
