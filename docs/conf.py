"""Sphinx configuration of the jwt_wsgi documentation.

Build: ``python -m sphinx -W -n -b html docs docs/_build/html`` (tests/test_docs.py runs
exactly this). No network: no intersphinx, so references to the standard library and to
other projects are ignored below rather than fetched.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The checkout's package first (an installed or editable copy may point elsewhere), then
# the local extension that generates tables from the code.
sys.path[:0] = [str(ROOT), str(ROOT / "docs" / "_ext")]

import jwt_wsgi  # noqa: E402

project = "jwt_wsgi"
author = "the jwt_wsgi authors"
copyright = "the jwt_wsgi authors"
release = version = jwt_wsgi.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.graphviz",
    "sphinx_autodoc_typehints",
    "sphinx_copybutton",
    "jwt_wsgi_tables",
]

exclude_patterns = ["_build"]
# Other branches add pages under guide/ and deploy/: index.rst lists the first pages of
# each section by name and the rest with a glob, which always matches some of ours (an
# empty glob is a warning that cannot be suppressed).
suppress_warnings = [
    # Names imported under TYPE_CHECKING (_typeshed's WSGI types) cannot be evaluated at
    # run time; the annotations are then shown as written, which is what we want.
    "sphinx_autodoc_typehints.guarded_import",
    "sphinx_autodoc_typehints.forward_reference",
    # The loader decorators are made by a factory; their docstrings are what matters.
    "sphinx_autodoc_typehints.local_function",
]

html_theme = "furo"
html_title = f"jwt_wsgi {release}"

graphviz_output_format = "svg"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": False}
typehints_fully_qualified = False
always_document_param_types = False

# Copy commands without their prompt or output.
copybutton_prompt_text = r"\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True

# Without intersphinx (no network), names from the standard library and from other
# projects have nothing to link to; everything of jwt_wsgi's own must resolve.
nitpick_ignore = [("py:data", "Ellipsis")]
nitpick_ignore_regex = [
    (r"py:class", r"jwt_wsgi\.\w+\.[A-Z]"),  # TypeVars (F, R) of jwt_wsgi's modules
    (r"py:.*", r"(collections\.abc|typing|datetime|os|re|http|socket|logging|pathlib|"
               r"argparse|types)\..*"),
    (r"py:.*", r"(_typeshed|webob|werkzeug|redis|jose|flask|django|cryptography)(\..*)?"),
    (r"py:.*", r"(Mapping|Sequence|Iterable|Iterator|Callable|Any|Protocol|TypeVar|"
               r"WSGIApplication|WSGIEnvironment|StartResponse|Path|PathLike|timedelta|R|F)"),
]
