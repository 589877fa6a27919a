"""The package's import graph: no cycles among module-level imports, and the command line uses
other modules' public names only (issue 13).

Read with ``ast`` from the source, not by importing: a cycle that happens to import in today's
order still breaks when a new entry point imports the other module first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airhook"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


CLI = "airhook.cli"


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def resolve(importer: str, level: int, module: str | None) -> str:
    """The absolute name of ``from <level dots><module> import ...`` written in ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    base = base if is_package(importer) else base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module is: its body, and inside top-level ``if``/``try`` (not functions,
    classes, nor ``if TYPE_CHECKING:``, which never runs)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and not _type_checking(node):
            yield from module_level(node.body)
            yield from module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from module_level(block)


def imported(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The airhook modules an import statement runs (a package's ``__init__`` included, unless
    the importer is inside that package, where it has already run)."""
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    else:
        target = resolve(importer, node.level, node.module)
        names = {target} | {f"{target}.{alias.name}" for alias in node.names}
    found: set[str] = set()
    for name in names:
        parts = name.split(".")
        for end in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            prefix = ".".join(parts[:end])
            if prefix in MODULES and prefix != importer and not importer.startswith(prefix + "."):
                found.add(prefix)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = set().union(*(imported(name, node) for node in module_level(tree.body)))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle, as the modules on it (the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.parametrize(("graph", "cycle"), [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
    ({"a": {"a"}}, ["a", "a"]),
])
def test_find_cycle_finds_what_it_should(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


@pytest.mark.parametrize(("importer", "level", "module", "expected"), [
    ("airhook.cli.check", 2, None, "airhook"),
    ("airhook.cli.check", 2, "config", "airhook.config"),
    ("airhook.cli.check", 1, "options", "airhook.cli.options"),
    ("airhook.cli", 1, "app", "airhook.cli.app"),
    ("airhook.senders", 1, "common", "airhook.senders.common"),
    ("airhook.config", 0, "airhook.errors", "airhook.errors"),
])
def test_relative_imports_resolve(importer: str, level: int, module: str | None, expected: str) -> None:
    assert resolve(importer, level, module) == expected


def test_the_graph_sees_the_cli_imports() -> None:
    graph = import_graph()
    assert {"airhook.cli.options", "airhook.config", "airhook.cli.configfile"} <= graph["airhook.cli.check"]
    assert "airhook.cli.check" in graph["airhook.cli.app"]


def test_no_import_cycles_in_airhook() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycles_in_the_cli_even_through_deferred_imports() -> None:
    """``app`` lists the subcommands and they share options: both through ``cli.options``, never
    each other, not even from inside a function."""
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        if name == CLI or name.startswith(CLI + "."):
            tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
            every = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
            graph[name] = {m for n in every for m in imported(name, n) if m.startswith(CLI + ".")}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# ------------------------------------------------------------------------------ private names


def private_uses(name: str) -> Iterator[str]:
    """In the CLI module ``name``: ``from <airhook module> import _x``, and ``owner._x`` where
    ``owner`` is another airhook module (``config._route``) or an object made by a class or
    function imported from one (``client = AirflowClient(...)``, then ``client._asset_id``).
    The CLI's own names, and dunders (``__version__``), are not private to it."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    foreign: set[str] = set()  # names bound to other airhook modules, or to what they export
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = resolve(name, node.level, node.module)
            if target != "airhook" and not target.startswith("airhook."):
                continue
            for alias in node.names:
                if f"{target}.{alias.name}" == CLI or f"{target}.{alias.name}".startswith(CLI + ".") \
                        or target == CLI or target.startswith(CLI + "."):
                    continue
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"line {node.lineno}: from {target} import {alias.name}"
                foreign.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("airhook.") and not alias.name.startswith(CLI + "."):
                    foreign.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):  # objects made by them
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            root = func
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in foreign:
                foreign.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in foreign):
            yield f"line {node.lineno}: {ast.unparse(node)}"


CLI_MODULES = [name for name in MODULES if name == CLI or name.startswith(CLI + ".")]


@pytest.mark.parametrize("name", CLI_MODULES)
def test_the_cli_uses_no_private_names_of_other_modules(name: str) -> None:
    assert list(private_uses(name)) == []


@pytest.mark.parametrize(("source", "expected"), [
    ("from .. import config\nconfig._airflow({})\n", ["line 2: config._airflow"]),
    ("from ..config import _route\n", ["line 1: from airhook.config import _route"]),
    ("from ..airflow.client import AirflowClient\nclient = AirflowClient(x)\nclient._asset_id('a')\n",
     ["line 3: client._asset_id"]),
    ("from .output import _CODES\n", []),
    ("import secrets as _random\n_random.token_hex()\n", []),
    ("class A:\n    def f(self):\n        return self._x\n", []),
    ("from .. import __version__\n", []),
    ("from urllib.parse import urlsplit\nparts = urlsplit(u)\nparts._replace(path='/')\n", []),
    ("from .. import airflow\nairflow.client._asset_id\n", []),
])
def test_private_uses_catches_what_it_should(source: str, expected: list[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    monkeypatch.setitem(MODULES, "airhook.cli.probe", path)
    assert list(private_uses("airhook.cli.probe")) == expected
