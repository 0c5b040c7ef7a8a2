"""Every benchmark runs, in its `--smoke` mode (small sizes), so a benchmark that breaks fails `make test`.
The figures are printed by the benchmarks, never asserted (timings vary with the machine's load)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted((ROOT / "bench").glob("*.py"))


def test_there_are_benchmarks_and_each_has_a_smoke_mode():
    assert len(BENCHMARKS) >= 8
    for path in BENCHMARKS:
        options = {node.args[0].value for node in ast.walk(ast.parse(path.read_text()))
                   if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument"
                   and node.args and isinstance(node.args[0], ast.Constant)}
        assert "--smoke" in options, f"{path.relative_to(ROOT)} has no --smoke option"


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_smoke_run(benchmark: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}   # copies bring their own backend
    result = subprocess.run([sys.executable, str(benchmark), "--smoke"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=1800)
    output = f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{benchmark.name} --smoke exited {result.returncode}\n{output}"
    assert result.stdout.strip(), f"{benchmark.name} --smoke printed no figure\n{output}"
