"""The project's import graph: no cycle between its modules nor between its top-level packages, and the
layers that must stay light stay light (importing a liteserver client loads no native TVM, the plan no engine).

Every `import` counts, a lazy one inside a function too: it is a dependency all the same."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_PROJECT = {"tests", "toolchain", "node_modules", "bench", "scripts"}  # tests and tools may import anything


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file of every module of the program (top-level modules and packages)."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[0].startswith(".") or parts[0] in NOT_PROJECT or parts[0] == "__main__":
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imports_of(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports (a `from package import module` names the module)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {name: imports_of(path, name, modules) for name, path in modules.items()}


def package_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Top-level package (or module) -> the top-level ones it imports."""
    graph: dict[str, set[str]] = {}
    for name, targets in module_graph(root).items():
        top = name.split(".")[0]
        graph.setdefault(top, set()).update(t.split(".")[0] for t in targets if t.split(".")[0] != top)
    return graph


def test_no_module_imports_itself_back():
    assert cycles(module_graph()) == []


def test_no_top_level_package_imports_back_a_package_that_imports_it():
    assert cycles(package_graph()) == []


def test_the_detector_finds_a_cycle(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "__init__.py").write_text("")
    (tmp_path / "one" / "a.py").write_text("def f():\n    from one.b import g\n")   # lazy: counts
    (tmp_path / "one" / "b.py").write_text("from one import a\n")
    (tmp_path / "two.py").write_text("import one.a\n")
    (tmp_path / "three.py").write_text("import two\nfrom one.a import f\n")
    (tmp_path / "one" / "c.py").write_text("import three\n")
    assert cycles(module_graph(tmp_path)) == [["one.a", "one.b"]]
    assert cycles(package_graph(tmp_path)) == [["one", "three", "two"]]


@pytest.mark.parametrize("imported, absent", [
    ("chain.liteserver, chain.connect, chain.wallets", ("pytvm", "chain.emulator", "chain.sandbox")),
    ("chain.client", ("chain.localnet", "chain.liteserver", "pytvm")),
    ("ton_deploy.plan", ("pulumi", "chain.emulator")),
    ("config.parse", ("pulumi", "chain.wallets")),
])
def test_light_layers_load_nothing_heavy(imported, absent):
    """Importing a liteserver client never loads the native TVM; the plan and config parsing load no engine."""
    check = f"import sys; import {imported}; print(sorted(m for m in {list(absent)!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
