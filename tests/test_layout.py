"""The package layout's arrows, checked over the source with `ast` (every import, including the
ones deferred into functions or under TYPE_CHECKING):

- `hub` (contracts, client, CLI) imports neither `trainer` nor the demo package above both;
- `trainer` does not import the demo package;
- `trainer/training` (the loop, the swarm, the model) does not import `trainer/pool` (the chain side);
- no modules import each other in a circle in `hub` (the client's bindings included), the demo
  package and `trainer` (`trainer/training` and `trainer/pool` included).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# @dev (files under this folder, may not import this package) -> why
FORBIDDEN = {
    ("hub", "trainer"): "hub sits below the trainer, which depends on it",
    ("hub", "aihub_demo"): "the demo sits above hub and adds its command through an entry point",
    ("trainer", "aihub_demo"): "the demo sits above the trainer",
    ("trainer/training", "trainer.pool"): "training knows nothing of the chain; the pool bridge uses training",
}


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `path`; relative imports are resolved."""
    package = path.relative_to(root).with_suffix("").parts
    package = package[:-1] if package[-1] != "__init__" else package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            # `from pkg import sub` may import a submodule: count both `pkg` and `pkg.sub`
            found += [(node.lineno, module)] + [(node.lineno, f"{module}.{a.name}") for a in node.names]
    return found


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(root: Path = ROOT) -> list[str]:
    """One entry per offending import statement: `path:line imports module (why)`."""
    out: dict[tuple[str, int], str] = {}
    for (folder, package), why in FORBIDDEN.items():
        for path in sorted((root / folder).rglob("*.py")):
            where = path.relative_to(root).as_posix()
            for line, module in imported_modules(path, root):
                if _is_within(module, package):
                    out.setdefault((where, line), f"{where}:{line} imports {module} ({why})")
    return [out[key] for key in sorted(out)]


def test_no_import_runs_upward() -> None:
    assert violations() == []


# @dev Packages whose modules must not import each other in a circle (dotted prefixes).
CIRCLE_FREE = ("hub", "aihub_demo", "trainer")


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a `from pkg import name` counts as the longest
    module it names), over hub/, trainer/ and aihub_demo/."""
    modules = {}
    for package in ("hub", "trainer", "aihub_demo"):
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = set()
        for _, imported in imported_modules(path, root):
            parts = imported.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts and ".".join(parts) != name:
                graph[name].add(".".join(parts))
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            if component:
                found.append(sorted([*component, node]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    checked = [c for c in circles(module_graph()) if any(_is_within(m, p) for m in c for p in CIRCLE_FREE)]
    assert checked == []


def test_the_circle_check_finds_a_circle() -> None:
    graph = {"hub.a": {"hub.b"}, "hub.b": {"hub.c"}, "hub.c": {"hub.a"}, "hub.d": {"hub.a"}}
    assert circles(graph) == [["hub.a", "hub.b", "hub.c"]]


@pytest.mark.parametrize(
    ("path", "source", "reported"),
    [
        ("hub/cli/x.py", "import trainer.cli\n", "hub/cli/x.py:1 imports trainer.cli "),
        ("hub/x.py", "def f():\n    from aihub_demo.command import demo\n", "hub/x.py:2 imports aihub_demo.command "),
        ("trainer/training/x.py", "from ..pool import audit\n", "trainer/training/x.py:1 imports trainer.pool "),
        ("trainer/training/x.py", "from .. import pool\n", "trainer/training/x.py:1 imports trainer.pool "),
    ],
)
def test_the_check_sees_every_form_of_import(tmp_path: Path, path: str, source: str, reported: str) -> None:
    """The checker is not vacuous: a plain, a deferred and a relative import are each caught once."""
    for folder in ("hub", "trainer/training"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(source)
    (tmp_path / "trainer" / "training" / "ok.py").write_text("from . import ok\nfrom trainer.training import x\n")
    [line] = violations(tmp_path)
    assert line.startswith(reported)
