"""The package's shape: no import cycle, and no import that runs upward against the layer order of
docs/architecture.md. Every import counts, also those inside functions and under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "cinesync"

#: bottom to top: a module may import from its own layer and the layers before it, never from a later one
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("cinesync.errors", "cinesync.version", "cinesync.extras")),
    ("data", ("cinesync.data",)),
    ("content", ("cinesync.content",)),
    ("ranking", ("cinesync.ranking",)),
    ("metrics", ("cinesync.metrics",)),
    ("training", ("cinesync.training",)),
    ("models", ("cinesync.models",)),
    ("artifacts", ("cinesync.artifacts",)),
    ("eval", ("cinesync.eval",)),
    ("experiments", ("cinesync.experiments",)),
    ("api", ("cinesync.api",)),
    ("store", ("cinesync.store",)),
    ("serving.engine", ("cinesync.serving.engine",)),
    ("serving", ("cinesync.serving",)),
    ("serving.http", ("cinesync.serving.http",)),
    ("serving.bot", ("cinesync.serving.bot",)),
    ("cli", ("cinesync.cli",)),
    ("testing", ("cinesync.testing",)),
    ("face", ("cinesync",)),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports (a ``from P import x`` counts as P.x when that is a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import cinesync.a.b` names module cinesync.a.b, or a package above it
                t = t.rpartition(".")[0]
            if t.startswith("cinesync") and t != name:
                out.add(t)
    return out


def layer_of(name: str) -> int:
    best, level = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    assert level >= 0, f"module {name} belongs to no layer: add it to LAYERS and docs/architecture.md"
    return level


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    for name in graph:
        layer_of(name)


def test_no_import_runs_upward(graph: dict[str, set[str]]) -> None:
    upward = [f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
              for a, deps in sorted(graph.items()) for b in sorted(deps) if layer_of(b) > layer_of(a)]
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    """Tarjan's strongly connected components: every component must be a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_a_planted_violation(tmp_path: Path) -> None:
    """The rules above would fail on an upward import and on a cycle (guards against a checker that sees nothing)."""
    modules = {"cinesync.data.a": tmp_path / "a.py", "cinesync.models.b": tmp_path / "b.py"}
    modules["cinesync.data.a"].write_text("def f():\n    from cinesync.models.b import g\n")
    modules["cinesync.models.b"].write_text("from cinesync.data import a\n")
    deps = {n: imports_of(n, p, modules) for n, p in modules.items()}
    assert deps == {"cinesync.data.a": {"cinesync.models.b"}, "cinesync.models.b": {"cinesync.data.a"}}
    assert layer_of("cinesync.models.b") > layer_of("cinesync.data.a")


def test_benchmarks_and_tests_stay_outside_the_package(graph: dict[str, set[str]]) -> None:
    for name, path in all_modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [mod or ""]
            assert not any(n.split(".")[0] in ("benchmarks", "tests") for n in names), f"{name} imports {names}"
