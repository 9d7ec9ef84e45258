"""``python -m benchmarks`` needs only ``pip install ".[all]"``: no tests/, pytest, dev extra.

Two checks: every import written anywhere in ``benchmarks/`` and ``harness/`` (at the
top or inside a function) names the standard library, our own packages or a
dependency of ``.[all]``; and every one of their modules imports in a fresh Python
where ``tests``, pytest and the other dev-only packages cannot be imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmarks", "harness")
OURS = frozenset({"bridge", "devices", *PACKAGES})
# Import names of the runtime dependencies and of the `all` extra (pyproject.toml).
ALL_EXTRA = frozenset(
    {
        "httpx",
        "httpx_sse",
        "h11",
        "webcolors",
        "sniffio",
        "gpiozero",
        "serial",
        "busylight_core",
        "StreamDeck",
        "PIL",
        "aiomqtt",
    }
)
# benchmarks/pocketpaw_runner.py runs in a throwaway venv with pocketpaw, never here.
RUNNER_ONLY = frozenset({"pocketpaw", "uvicorn"})
# What a plain install lacks: importing any of these fails in the subprocess below.
DEV_ONLY = ("tests", "pytest", "_pytest", "hypothesis", "pytest_asyncio", "trustme", "jinja2")


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    """Top-level names of every absolute import in ``path``, wherever it is written."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_import_is_in_a_plain_install(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | OURS | ALL_EXTRA
    if path.name == "pocketpaw_runner.py":
        allowed |= RUNNER_ONLY
    assert _imported(path) - allowed == set()


_IMPORT_ALL = """
import importlib, importlib.abc, pkgutil, sys

BLOCKED = set(sys.argv[1].split(","))

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Absent())
for package in sys.argv[2:]:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(info.name)
        print(info.name)
"""


def test_every_module_imports_without_tests_or_pytest() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, ",".join(DEV_ONLY), *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    imported = set(done.stdout.split())
    expected = {f"{p.parent.name}.{p.stem}" for p in _sources() if p.name != "__init__.py"}
    assert imported == expected
