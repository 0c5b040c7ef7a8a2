"""bench/standins.py --smoke runs and prints its figures."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_standins_bench_smoke():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "standins.py"), "--smoke"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "CPU-s per minute" in result.stdout and "api-v2" in result.stdout
