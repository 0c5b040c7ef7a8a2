import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = ROOT / ".tools" / "bin" / "promtool"


@pytest.fixture(scope="session")
def promtool():
    """Run the promtool built by scripts/bootstrap: promtool(*args) -> CompletedProcess (never raises)."""
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL} is missing: run scripts/bootstrap (its promtool step builds it)")

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(PROMTOOL), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)

    return run


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def unscoped_selectors(expr: str, namespace: str) -> list[str]:
    """Selectors of per-stack metrics in `expr` that do not select `namespace` exactly."""
    import promql_parser

    from monitoring.metrics import unscoped_metrics

    bad = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector) and node.name not in unscoped_metrics():
            ns = [m for m in node.matchers.matchers if m.name == "namespace"]
            if [(str(m.op), m.value) for m in ns] != [("MatchOp.Equal", namespace)]:
                bad.append(str(node))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return bad
