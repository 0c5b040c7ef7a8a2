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
