"""The layout says what the architecture is: layers, public seams, no cycles, small modules.

Read from the source with ``ast`` (imports at a module's top level; those inside
functions or under ``TYPE_CHECKING`` do not make a dependency at import time).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "keymoments"

# the layers that reduce and model the data never reach up to the ones that use them
LOWER = ("keymoments.data", "keymoments.journey")
UPPER = ("experience", "portfolio", "report", "web", "cli", "monitoring")

# modules still over the size a newcomer can read in one sitting, at their size today:
# they may shrink, never grow (issue: one flow, one set of settings)
MAX_LINES = 600
OVERSIZE = {
    "keymoments.analysis": 860,
    "keymoments.data.engine": 634,
    "keymoments.data.readers": 775,
    "keymoments.experience.drivers": 681,
    "keymoments.journey.fit": 972,
    "keymoments.journey.summaries": 841,
    "keymoments.model": 1061,
    "keymoments.portfolio.reduced": 727,
    "keymoments.report.sections": 847,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(path: Path, top_level: bool) -> list[ast.ImportFrom]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level else list(ast.walk(tree))
    return [
        n
        for n in nodes
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("keymoments")
    ]


def test_the_data_and_journey_layers_never_import_the_layers_above() -> None:
    upward = [
        f"{name} imports {node.module}"
        for name, path in MODULES.items()
        if name.startswith(LOWER)
        for node in _imports(path, top_level=False)
        if node.module.split(".")[1] in UPPER  # type: ignore[union-attr]
    ]
    assert upward == []


def test_no_private_name_is_imported_from_another_module() -> None:
    private = [
        f"{name} takes {alias.name} from {node.module}"
        for name, path in MODULES.items()
        for node in _imports(path, top_level=False)
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert private == []


def test_no_import_cycle_at_import_time() -> None:
    graph = {
        name: {
            node.module
            for node in _imports(path, top_level=True)
            if node.module in MODULES and node.module != name
        }
        for name, path in MODULES.items()
    }
    # a package's __init__ re-exporting its modules is not a cycle with them
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= OVERSIZE.get(name, MAX_LINES), f"{name}: {lines} lines"
