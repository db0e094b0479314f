"""The core imports no add-on, directly or through another module (import graph by ``ast``).

Add-ons (the reverse proxy, forward auth, cookie helpers, configuration files, PasteDeploy,
the command line, the demo) build on the core; the core (every other module of the
package, such as settings, tokens, keys, routes, policy, locations, handlers, manager,
middleware) must work without them. Imports under ``if TYPE_CHECKING:`` are annotations
only and do not count; imports inside functions do.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jwt_wsgi"
ADD_ONS = frozenset({"proxy", "proxy_request", "proxy_response", "forward_auth", "cookies",
                     "config", "paste", "cli", "cliargs", "keytool", "demo"})
#: The package's face: it re-exports add-ons on purpose, and nothing imports it.
FACE = frozenset({"__init__", "__main__"})
NAMED_CORE = ("settings", "tokens", "keys", "keyshapes", "routes", "readings", "rules",
              "policy", "locations", "body", "csrf", "errors", "handlers", "manager",
              "middleware", "context", "cache", "jwks", "issuers", "blocklist")


def modules() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py"))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str) -> set[str]:
    """The package modules ``module`` imports at run time (at any depth of its code)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.level == 0 and node.module and node.module.startswith("jwt_wsgi"):
                parts = node.module.split(".")
                found.update([parts[1]] if len(parts) > 1 else
                             [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "jwt_wsgi" and len(parts) > 1:
                    found.add(parts[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found & set(modules())


def reachable(module: str) -> dict[str, list[str]]:
    """Every module ``module`` imports, directly or not, with one chain that leads there."""
    chains: dict[str, list[str]] = {}
    todo = [(module, [module])]
    while todo:
        current, chain = todo.pop()
        for target in sorted(imports_of(current)):
            if target not in chains and target != module:
                chains[target] = [*chain, target]
                todo.append((target, chains[target]))
    return chains


CORE = [name for name in modules() if name not in ADD_ONS | FACE]


def test_the_named_core_modules_that_exist_are_checked() -> None:
    assert {"settings", "tokens", "routes", "manager", "middleware"} <= set(CORE)
    assert set(CORE) >= {name for name in NAMED_CORE if (PACKAGE / f"{name}.py").exists()}


@pytest.mark.parametrize("module", CORE)
def test_a_core_module_imports_no_add_on(module: str) -> None:
    bad = {target: chain for target, chain in reachable(module).items() if target in ADD_ONS}
    assert not bad, "; ".join(" -> ".join(chain) for chain in bad.values())


def test_the_graph_reader_sees_lazy_and_typing_imports_correctly(tmp_path: Path) -> None:
    # the checker itself: a lazy import counts, a TYPE_CHECKING one does not
    assert "proxy" in imports_of("config")  # imported inside a method there
    assert "proxy" not in imports_of("cli")
