"""The package layout's arrows, checked over the source with `ast` (every import, including the
ones deferred into functions or under TYPE_CHECKING):

- `hub` (contracts, client, CLI) imports neither `trainer` nor the demo package above both;
- `trainer` does not import the demo package;
- `trainer/training` (the loop, the swarm, the model) does not import `trainer/pool` (the chain side).
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
