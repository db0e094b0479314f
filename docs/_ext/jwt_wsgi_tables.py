"""Tables the documentation generates from the code, so that nothing is written twice.

``.. jwt-settings::`` lists every field of :class:`jwt_wsgi.Settings` (keyword, mapping
key, default, meaning); ``.. jwt-errors::`` lists every refusal class of
:mod:`jwt_wsgi.errors` with its status, codes and loader.

Both generators only read what the code declares: a setting's line of documentation is
part of its field declaration in :mod:`jwt_wsgi.settings`; a setting without one is a
build warning (so ``-W`` fails) rather than a silent gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

def settings_rows(docname: str) -> Iterator[list[str]]:
    """One row per setting, from :func:`jwt_wsgi.settings.reference_rows` (the same list
    of fields that drives validation and ``from_mapping``)."""
    from jwt_wsgi.settings import reference_rows

    for row in reference_rows():
        if not row.doc:
            logger.warning("setting %r has no line of documentation", row.keyword,
                           location=docname)
        default = row.default if row.default.startswith("``") else f"``{row.default}``"
        yield [f"``{row.keyword}``", f"``{row.key}``", default, row.doc]


def error_classes() -> Iterator[tuple[int, type[Any]]]:
    """Every refusal class, depth first from :class:`JWTWSGIError`, with its depth."""
    from jwt_wsgi.errors import JWTWSGIError

    def walk(cls: type[Any], depth: int) -> Iterator[tuple[int, type[Any]]]:
        yield depth, cls
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("jwt_wsgi"):
                yield from walk(sub, depth + 1)

    yield from walk(JWTWSGIError, 0)


def error_rows() -> Iterator[list[str]]:
    import jwt_wsgi

    for depth, cls in error_classes():
        public = cls.__name__ in jwt_wsgi.__all__
        name = f":class:`~jwt_wsgi.{cls.__name__}`" if public else f"``{cls.__name__}``"
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        yield [
            "\u2003" * depth + name,
            str(cls.status),
            f"``{cls.code}``",
            f"``{cls.error}``" if cls.error else "--",
            f"``{cls.loader}``",
            f"{cls.default_message}",
            summary,
        ]


def list_table(header: list[str], rows: Iterator[list[str]], widths: str) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        for i, cell in enumerate(row):
            lines.append(("   * - " if i == 0 else "     - ") + (cell or " "))
    return lines


def _source(module: str) -> str:
    """The file a table is generated from: a change to it rebuilds the page."""
    import importlib

    return str(importlib.import_module(f"jwt_wsgi.{module}").__file__)


class _TableDirective(SphinxDirective):
    has_content = False

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        source = self.get_source_info()[0]
        self.state.nested_parse(StringList(self.lines(), source=source), self.content_offset,
                                container)
        return container.children


class SettingsTable(_TableDirective):
    """``.. jwt-settings::``: the settings reference, from :class:`jwt_wsgi.Settings`."""

    def lines(self) -> list[str]:
        self.env.note_dependency(_source("settings"))
        return list_table(["keyword", "mapping key", "default", "meaning"],
                          settings_rows(self.env.docname), "20 26 14 40")


class ErrorsTable(_TableDirective):
    """``.. jwt-errors::``: every refusal with its status, codes and loader."""

    def lines(self) -> list[str]:
        self.env.note_dependency(_source("errors"))
        return list_table(["class", "status", "code", "RFC 6750 error", "loader",
                           "default message", "when"], error_rows(), "18 6 14 12 18 14 18")


def _lookup(dotted: str) -> bool:
    """Whether ``dotted`` names an object that exists in the code."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def resolve_in_package(app: Sphinx, env: Any, node: Any, contnode: nodes.Node) -> Any:
    """References from docstrings to jwt_wsgi's own names.

    Docstrings name objects where they are defined (``jwt_wsgi.context.get_jwt``), the
    reference documents the public ones where users import them (``jwt_wsgi.get_jwt``):
    such a reference links to the public entry. A reference to an internal name (a private
    helper, a module constant) that exists in the code is shown as code without a link; a
    reference to a name the code no longer has stays a warning, so ``-n -W`` fails.
    """
    import jwt_wsgi

    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip(".~")
    scopes = [node.get("py:class"), node.get("py:module")]
    source = str(node.source or "")
    if "docstring of " in source:
        owner = source.rsplit("docstring of ", 1)[1].split(":")[0]
        scopes += [owner.rsplit(".", n)[0] for n in range(owner.count(".") + 1)]
    candidates = [target] + [f"{scope}.{target}" for scope in scopes if scope]
    domain = env.get_domain("py")
    for candidate in candidates:
        if not candidate.startswith("jwt_wsgi") or not _lookup(candidate):
            continue
        parts = candidate.split(".")
        documented = [candidate] + ["jwt_wsgi." + ".".join(parts[i:])
                                    for i, part in enumerate(parts) if part in jwt_wsgi.__all__]
        for name in documented:
            if name in domain.objects:
                new = node.deepcopy()
                new["reftarget"] = name
                return domain.resolve_xref(env, node["refdoc"], app.builder,
                                           node["reftype"], name, new, contnode)
        return contnode  # exists, but internal: code, no link
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve_in_package)
    app.add_directive("jwt-settings", SettingsTable)
    app.add_directive("jwt-errors", ErrorsTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
