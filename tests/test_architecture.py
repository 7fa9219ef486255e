"""The dependency rules of docs/architecture.md, read from the import graph (ast, no imports run).

Every import counts: module level, inside functions (lazy) and under ``TYPE_CHECKING``. Print the
package graph with ``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT_PACKAGE = "tuneloop"

FOUNDATION = {"config", "errors", "findings", "jsonable", "machine", "progress", "project", "refs", "store"}
"""Packages and modules every stage may use; they use no stage."""
STAGES = {
    "data",
    "train",
    "evaluate",
    "redteam",
    "models",
    "registry",
    "reports",
    "serve",
    "monitor",
    "deploy",
}
"""Lifecycle stages (and the packages of the production half as they land)."""
CLI_ROOTS = {"cli", "console", "__main__"}
CLI_LIBRARIES = {"typer", "rich", "click"}


@dataclass(frozen=True)
class Import:
    source: str
    """The importing module, dotted (``tuneloop.data.check``)."""
    target: str
    """The imported module or name, dotted as written (``tuneloop.console`` or ``rich.table``)."""
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if not node.level:
        base = node.module or ""
        return [f"{base}.{alias.name}" if base.startswith(ROOT_PACKAGE) else base for alias in node.names]
    anchor = module.split(".")
    anchor = anchor if is_package else anchor[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    base = ".".join([*anchor, node.module] if node.module else anchor)
    return [f"{base}.{alias.name}" for alias in node.names]


def read_imports() -> list[Import]:
    imports = []
    for path in sorted((SRC / ROOT_PACKAGE).rglob("*.py")):
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _absolute(module, path.name == "__init__.py", node)
            else:
                continue
            imports.extend(Import(module, target, node.lineno) for target in targets)
    return imports


def package_of(module: str) -> str | None:
    """``tuneloop.data.check`` -> ``data``; ``tuneloop.errors`` -> ``errors``; outside -> None."""
    parts = module.split(".")
    if parts[0] != ROOT_PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def is_cli_layer(module: str) -> bool:
    """``tuneloop.cli``, ``tuneloop.console``, ``tuneloop.__main__`` and each package's ``commands``
    and ``commands_<topic>`` modules (the terminal side of a stage, kept beside it)."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in CLI_ROOTS:
        return True
    return any(part == "commands" or part.startswith("commands_") for part in parts[2:])


def _targets_module(target: str, module: str) -> bool:
    return target == module or target.startswith(module + ".")


IMPORTS = read_imports()
INTERNAL = [i for i in IMPORTS if not is_cli_layer(i.source)]


def package_graph(imports: list[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for item in imports:
        source, target = package_of(item.source), package_of(item.target)
        if source and target and source != target:
            graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {t for targets in graph.values() for t in targets}):
        if node not in index:
            visit(node)
    return found


def _where(item: Import) -> str:
    return f"{item.source}:{item.line} imports {item.target}"


def _imports_cli(source: str | None, target: str | None, item: Import) -> bool:
    return item.target.split(".")[0] in CLI_LIBRARIES or (target is not None and is_cli_layer(item.target))


RULES: dict[str, Callable[[str | None, str | None, Import], bool]] = {
    "cli": _imports_cli,
    "foundation": lambda source, target, _: source in FOUNDATION and target in STAGES,
    "no-train": lambda source, target, _: source in {"data", "evaluate"} and target == "train",
    "reports": lambda source, target, _: source == "reports" and target in STAGES - {"reports"},
    "registry": lambda source, target, _: source == "registry" and target in STAGES - {"registry"},
}
"""rule -> whether one import (source package, target package, the import) breaks it."""


def violations(rule: str, imports: list[Import] | None = None) -> list[str]:
    broken = RULES[rule]
    return [
        _where(item)
        for item in (INTERNAL if imports is None else imports)
        if broken(package_of(item.source), package_of(item.target), item)
    ]


def test_the_graph_is_read() -> None:
    # A parser that finds nothing would pass every rule below.
    assert len(IMPORTS) > 500
    assert any(_targets_module(i.target, "tuneloop.console") for i in IMPORTS if is_cli_layer(i.source))
    assert package_graph(INTERNAL)["train"] >= {"data", "models"}
    assert is_cli_layer("tuneloop.evaluate.commands") and is_cli_layer("tuneloop.evaluate.commands_render")
    assert not is_cli_layer("tuneloop.evaluate.runner")


@pytest.mark.parametrize(
    ("rule", "meaning"),
    [
        ("cli", "stages never import the CLI layer (cli, console, */commands*) or typer/rich/click"),
        ("foundation", "config, store, project, errors, findings, progress import no stage"),
        ("no-train", "data and evaluate never import train"),
        ("reports", "reports imports no stage"),
        ("registry", "registry imports only foundation modules (promotion lives in deploy)"),
    ],
)
def test_dependency_rule(rule: str, meaning: str) -> None:
    broken = violations(rule)
    assert not broken, f"{meaning}:\n" + "\n".join(broken)


def test_no_cycle_between_packages() -> None:
    found = cycles(package_graph(INTERNAL))
    assert not found, "import cycles between packages: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_rules_catch_violations() -> None:
    fake = [
        Import("tuneloop.data.check", "tuneloop.console.progress_bar", 1),
        Import("tuneloop.evaluate.x", "tuneloop.train.loop", 2),
        Import("tuneloop.train.y", "tuneloop.evaluate.z", 3),
    ]
    assert cycles(package_graph(fake)) == [["evaluate", "train"]]
    assert violations("cli", fake) == ["tuneloop.data.check:1 imports tuneloop.console.progress_bar"]
    assert violations("no-train", fake) == ["tuneloop.evaluate.x:2 imports tuneloop.train.loop"]
    assert violations("registry", [Import("tuneloop.registry.a", "tuneloop.evaluate.suites", 5)]) == [
        "tuneloop.registry.a:5 imports tuneloop.evaluate.suites"
    ]
    assert violations("cli", [Import("tuneloop.train.z", "rich.table", 4)]) == [
        "tuneloop.train.z:4 imports rich.table"
    ]


def main() -> None:
    graph = package_graph(INTERNAL)
    for package in sorted(graph):
        print(f"{package} -> {' '.join(sorted(graph[package]))}")
    found = cycles(graph)
    print("cycles:", "; ".join(" <-> ".join(c) for c in found) if found else "none")
    modules = sorted((SRC / ROOT_PACKAGE).rglob("*.py"))
    sizes = [len(p.read_text(encoding="utf-8").splitlines()) for p in modules]
    print(f"{len(modules)} modules, {sum(sizes)} lines, largest {max(sizes)}", file=sys.stderr)


if __name__ == "__main__":
    main()
