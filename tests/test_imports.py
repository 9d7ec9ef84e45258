"""The product's import graph, drawn from the code: no cycle, and the layering rules hold.

Every module of ``bridge/`` and ``devices/`` is read with :mod:`ast`, and every import
in it counts: at module level, in a function (where a cycle hides best: it only bites
when that function runs), under ``if TYPE_CHECKING`` (a type-only import still says
which part knows which). Only imports of the product's own modules are edges.

The rules (issue 25): data flows one way, so sources and devices never import each
other; the model imports nothing of ours; a source does not depend on the systemd
layer; a driver reads no config or theme file; only ``bridge.cli`` imports the
commands (they share ``bridge.commands.common``, and import no other command); the
composition root (``bridge.app``) and the simulator import no command.
"""

from __future__ import annotations

import ast
import graphlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bridge", "devices")

#: The module every command may import: helpers they share, not a command.
COMMANDS_SHARED = frozenset({"bridge.commands.common"})

#: Edges a rule would flag that are allowed, each with why.
ALLOWED: dict[tuple[str, str], str] = {
    # The program's first instructions catch stop signals, then hand over to the CLI.
    ("bridge.entry", "bridge.cli"): "the console script and python -m bridge",
}


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` imports ``target`` at ``file:line`` (in ``function``, or at module level)."""

    source: str
    target: str
    file: str
    line: int
    function: str | None = None

    def __str__(self) -> str:
        where = f" in {self.function}()" if self.function else ""
        return f"{self.source} imports {self.target} ({self.file}:{self.line}{where})"


def product_modules(root: Path, packages: Iterable[str] = PRODUCT) -> dict[str, Path]:
    """Every module under ``packages`` by dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _resolve(dotted: str, modules: dict[str, Path]) -> str | None:
    """The product module ``dotted`` names: itself, else the nearest package holding it."""
    parts = dotted.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


class _Imports(ast.NodeVisitor):
    """Each import statement in a module, with the function it sits in."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.scope: list[str] = []
        self.found: list[tuple[str, int, str | None]] = []  # (dotted name, line, function)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _note(self, name: str, node: ast.stmt) -> None:
        self.found.append((name, node.lineno, self.scope[-1] if self.scope else None))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._note(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            # Relative: from the module's package, one level up per extra dot.
            package = self.module.split(".")
            if not self.is_package:
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            # `from pkg import name`: the submodule pkg.name if there is one, else pkg.
            self._note(f"{base}.{alias.name}" if alias.name != "*" else base, node)


def scan(root: Path, packages: Iterable[str] = PRODUCT) -> list[Edge]:
    """Every import of a product module by a product module (self-imports left out)."""
    modules = product_modules(root, packages)
    edges: list[Edge] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        visitor = _Imports(module, path.name == "__init__.py")
        visitor.visit(tree)
        for name, line, function in visitor.found:
            target = _resolve(name, modules)
            if target is not None and target != module:
                file = str(path.relative_to(root))
                edges.append(Edge(module, target, file, line, function))
    return edges


def cycles(edges: Iterable[Edge]) -> list[list[Edge]]:
    """Import cycles, each as the edges that close it; every cyclic part is in one of them.

    graphlib finds one cycle at a time: note it, drop one of its edges, look again.
    """
    first: dict[tuple[str, str], Edge] = {}
    for edge in edges:
        first.setdefault((edge.source, edge.target), edge)
    # graphlib takes node -> predecessors: an imported module comes before its importer.
    graph: dict[str, set[str]] = {}
    for source, target in first:
        graph.setdefault(source, set()).add(target)
    found: list[list[Edge]] = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as err:
            # Each node is imported by the next one (the last node repeats the first).
            nodes: list[str] = list(reversed(err.args[1]))
            loop = [first[(a, b)] for a, b in itertools.pairwise(nodes)]
            found.append(loop)
            graph[loop[0].source].discard(loop[0].target)
        else:
            return found


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


Rule = Callable[[str, str], bool]

RULES: dict[str, Rule] = {
    "a source imports a device": lambda s, t: _in(s, "bridge.sources") and _in(t, "devices"),
    "a device imports a source": lambda s, t: _in(s, "devices") and _in(t, "bridge.sources"),
    "the model imports something of ours": lambda s, t: s == "bridge.pipeline.model",
    "a source imports the service layer": lambda s, t: (
        _in(s, "bridge.sources") and _in(t, "bridge.service")
    ),
    "a device imports config or theme loading": lambda s, t: (
        _in(s, "devices") and _in(t, "bridge.infra.config", "bridge.pipeline.theme")
    ),
    "something besides bridge.cli imports the command line or a command": lambda s, t: (
        _in(t, "bridge.cli", "bridge.commands")
        and s != "bridge.cli"
        and not (_in(s, "bridge.commands") and t in COMMANDS_SHARED)
    ),
    "the composition root imports a command": lambda s, t: (
        s == "bridge.app" and _in(t, "bridge.cli", "bridge.commands")
    ),
    "the simulator imports a command": lambda s, t: (
        _in(s, "bridge.simulator") and _in(t, "bridge.cli", "bridge.commands")
    ),
}


def broken_rules(edges: Iterable[Edge]) -> list[str]:
    """One line per edge that breaks a rule (and is not in :data:`ALLOWED`)."""
    lines = []
    for edge in edges:
        if (edge.source, edge.target) in ALLOWED:
            continue
        broken = [name for name, rule in RULES.items() if rule(edge.source, edge.target)]
        if broken:
            lines.append(f"{edge}: {'; '.join(broken)}")
    return lines


def _describe(loop: list[Edge]) -> str:
    path = " -> ".join([loop[0].source, *(edge.target for edge in loop)])
    return path + "\n" + "\n".join(f"    {edge}" for edge in loop)


# -- the product --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def product() -> list[Edge]:
    return scan(ROOT)


def test_the_scan_reads_the_whole_product(product: list[Edge]) -> None:
    modules = product_modules(ROOT)
    # A wrong path would find nothing, and then every rule would hold.
    assert {"bridge.cli", "bridge.app", "bridge.engine", "devices.base"} <= set(modules)
    assert len(modules) > 50
    assert any(e.source == "bridge.engine" and e.target == "bridge.pipeline.model" for e in product)


def test_the_product_has_no_import_cycle(product: list[Edge]) -> None:
    found = cycles(product)
    assert not found, "import cycles:\n" + "\n".join(_describe(loop) for loop in found)


def test_the_product_keeps_the_layering_rules(product: list[Edge]) -> None:
    broken = broken_rules(product)
    assert not broken, "imports that break the layering:\n" + "\n".join(broken)


def test_every_allowed_edge_is_still_there(product: list[Edge]) -> None:
    # An exception outliving its import would quietly allow it again later.
    present = {(e.source, e.target) for e in product}
    assert set(ALLOWED) <= present


# -- the checks themselves: each finds what it is for -------------------------------------


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_scan_sees_every_kind_of_import(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub import helper\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/helper.py": "import os\n",
            "pkg/a.py": (
                "from __future__ import annotations\n"
                "import pkg.b\n"
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.c import Thing\n"
                "def later() -> None:\n    from pkg import d\n"
                "class K:\n    async def m(self) -> None:\n        from . import e\n"
            ),
            "pkg/b.py": "from pkg.sub.helper import name  # an attribute: the module\n",
            "pkg/c.py": "from .sub import helper\nfrom pkg import attribute\n",
            "pkg/d.py": "from ..outside import x\n",
            "pkg/e.py": "",
        },
    )
    found = {(e.source, e.target, e.function) for e in scan(tmp_path, ["pkg"])}
    assert found == {
        ("pkg", "pkg.sub.helper", None),
        ("pkg.a", "pkg.b", None),
        ("pkg.a", "pkg.c", None),
        ("pkg.a", "pkg.d", "later"),
        ("pkg.a", "pkg.e", "m"),
        ("pkg.b", "pkg.sub.helper", None),
        ("pkg.c", "pkg.sub.helper", None),
        ("pkg.c", "pkg", None),
    }


def test_a_cycle_hidden_in_a_function_is_found_and_named(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\n",
            "pkg/b.py": "import pkg.c\n",
            "pkg/c.py": "def run() -> None:\n    from pkg import a\n",
            "pkg/d.py": "import pkg.e\n",
            "pkg/e.py": "import pkg.d\n",
            "pkg/f.py": "import pkg.a\n",  # imports into a cycle: not part of one
        },
    )
    found = cycles(scan(tmp_path, ["pkg"]))
    rings = sorted(sorted(edge.source for edge in loop) for loop in found)
    assert rings == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.d", "pkg.e"]]
    for loop in found:
        # Each edge leads to the next: the cycle reads as a path.
        assert all(x.target == y.source for x, y in zip(loop, loop[1:] + loop[:1], strict=True))
    text = _describe(next(loop for loop in found if len(loop) == 3))
    assert "pkg/c.py:2 in run()" in text


@pytest.mark.parametrize(
    ("source", "target", "rule"),
    [
        ("bridge.sources.agp.source", "devices.base", "a source imports a device"),
        ("devices.led.gpio", "bridge.sources.base", "a device imports a source"),
        ("bridge.pipeline.model", "bridge.infra.errors", "the model imports something of ours"),
        ("bridge.sources.pocketpaw.source", "bridge.service.notify", "service layer"),
        ("devices.streamdeck.preview", "bridge.infra.config", "config or theme loading"),
        ("devices.terminal", "bridge.pipeline.theme", "config or theme loading"),
        ("bridge.engine", "bridge.cli", "imports the command line or a command"),
        ("bridge.commands.demo", "bridge.commands.run", "imports the command line or a command"),
        ("bridge.app", "bridge.commands.demo", "the composition root imports a command"),
        ("bridge.simulator.agp", "bridge.commands.demo", "the simulator imports a command"),
        ("devices.survey", "bridge.commands.common", "imports the command line or a command"),
    ],
)
def test_each_rule_flags_its_break(source: str, target: str, rule: str) -> None:
    (line,) = broken_rules([Edge(source, target, "x.py", 1)])
    assert f"{source} imports {target}" in line
    assert rule in line


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("bridge.cli", "bridge.commands.run"),
        ("bridge.commands.run", "bridge.app"),
        ("bridge.commands.show", "bridge.commands.common"),
        ("bridge.commands.demo", "bridge.simulator.tour"),
        ("bridge.__main__", "bridge.entry"),
        ("bridge.entry", "bridge.cli"),
        ("devices.streamdeck.layout", "bridge.pipeline.model"),
        ("bridge.sources.pocketpaw.source", "bridge.infra.credentials"),
    ],
)
def test_what_the_layering_allows_passes(source: str, target: str) -> None:
    assert broken_rules([Edge(source, target, "x.py", 1)]) == []


# -- the command line finds each command's module -----------------------------------------


def test_every_command_on_the_command_line_has_its_module() -> None:
    from bridge.cli import _COMMANDS, command_main

    names = [name for name, *_ in _COMMANDS]
    assert len(names) == 12
    for name in names:
        assert callable(command_main(name)), name
    modules = product_modules(ROOT, ["bridge"])
    # Every module in bridge/commands/ is a command the parser lists, or shared by them.
    commands = {m for m in modules if m.startswith("bridge.commands.")}
    listed = {f"bridge.commands.{name.replace('-', '_')}" for name in names}
    assert commands - COMMANDS_SHARED <= listed
